package bus

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Embedded is an in-process Kafka-protocol broker (franz-go's kfake) on a
// loopback port. With a data directory its log is on disk and every produce
// is synced before it is acknowledged, so a process killed with SIGKILL and
// started again finds every acknowledged message and committed offset.
type Embedded struct {
	c *kfake.Cluster
}

// EmbeddedOptions configures the embedded broker.
type EmbeddedOptions struct {
	// DataDir holds the broker's log; "" keeps everything in memory.
	DataDir string
	// Port is the loopback port to listen on; 0 picks a free one.
	Port int
	// Partitions is the default partition count of auto-created topics.
	Partitions int
	Logger     *slog.Logger
}

// StartEmbedded starts the embedded broker.
func StartEmbedded(o EmbeddedOptions) (*Embedded, error) {
	if o.Partitions <= 0 {
		o.Partitions = 1
	}
	port := o.Port
	if port == 0 {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		port = p
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.DefaultNumPartitions(o.Partitions),
		kfake.AllowAutoTopicCreation(),
		kfake.GroupMinSessionTimeout(100 * time.Millisecond),
	}
	if o.DataDir != "" {
		opts = append(opts, kfake.DataDir(o.DataDir), kfake.SyncWrites())
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded broker: %w", err)
	}
	if o.Logger != nil {
		o.Logger.Info("embedded Kafka-protocol broker started", slog.Any("addrs", c.ListenAddrs()), slog.String("data_dir", o.DataDir))
	}
	return &Embedded{c: c}, nil
}

// Addrs returns the broker's listen addresses (host:port).
func (e *Embedded) Addrs() []string { return e.c.ListenAddrs() }

// Close stops the broker, flushing its log to disk.
func (e *Embedded) Close() { e.c.Close() }

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	_, p, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(p)
}
