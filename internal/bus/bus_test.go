package bus_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/newsflow/newsflow/internal/bus"
)

// brokers returns the Kafka to test against: NEWSFLOW_TEST_KAFKA when set
// (Apache Kafka from scripts/testenv.sh), else a fresh embedded broker.
func brokers(t *testing.T) []string {
	t.Helper()
	if b := os.Getenv("NEWSFLOW_TEST_KAFKA"); b != "" {
		return []string{b}
	}
	e, err := bus.StartEmbedded(bus.EmbeddedOptions{Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e.Addrs()
}

func testConfig(t *testing.T) bus.Config {
	c := bus.DefaultConfig()
	c.Brokers = brokers(t)
	suffix := fmt.Sprintf(".%s.%d", t.Name(), time.Now().UnixNano())
	c.Topics.Raw += suffix
	c.Topics.Enriched += suffix
	c.Topics.DeadLetter += suffix
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestWriteConsumeCommit(t *testing.T) {
	c := testConfig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := bus.EnsureTopics(ctx, c); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m, err := bus.NewMetrics("test", reg)
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.NewWriter(c.Topics.Raw, m)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	const n = 50
	var msgs []kafka.Message
	for i := range n {
		msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d", i))})
	}
	if err := w.Write(ctx, msgs...); err != nil {
		t.Fatal(err)
	}

	// First consumer: handles the first batch but fails it, so nothing is
	// committed; a second consumer in the same group must see every message.
	group := "g-" + t.Name()
	cons, err := c.NewConsumer(bus.ConsumerConfig{GroupID: group, Topic: c.Topics.Raw, BatchSize: 10, BatchWait: 50 * time.Millisecond}, quiet, m)
	if err != nil {
		t.Fatal(err)
	}
	errBoom := errors.New("boom")
	err = cons.Run(ctx, func(ctx context.Context, b []kafka.Message) error { return errBoom })
	if !errors.Is(err, errBoom) {
		t.Fatalf("Run error = %v, want boom", err)
	}

	seen := map[string]int{}
	var mu sync.Mutex
	cctx, ccancel := context.WithCancel(ctx)
	cons2, err := c.NewConsumer(bus.ConsumerConfig{GroupID: group, Topic: c.Topics.Raw, BatchSize: 7, BatchWait: 50 * time.Millisecond}, quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- cons2.Run(cctx, func(ctx context.Context, b []kafka.Message) error {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range b {
				seen[string(m.Key)]++
			}
			if len(seen) == n {
				ccancel()
			}
			return nil
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("timed out waiting for messages")
	}
	if len(seen) != n {
		t.Fatalf("saw %d distinct keys, want %d", len(seen), n)
	}
	cl, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	lag, err := bus.GroupLag(ctx, cl, group, c.Topics.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if lag != 0 {
		t.Errorf("lag after consuming everything = %d, want 0", lag)
	}
	w2, _ := c.NewWriter(c.Topics.Raw, nil)
	defer w2.Close()
	if err := w2.Write(ctx, kafka.Message{Key: []byte("x"), Value: []byte("y")}); err != nil {
		t.Fatal(err)
	}
	if lag, err = bus.GroupLag(ctx, cl, group, c.Topics.Raw); err != nil || lag != 1 {
		t.Errorf("lag after one more message = %d, %v; want 1", lag, err)
	}
}

func TestDeadLetters(t *testing.T) {
	c := testConfig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := bus.EnsureTopics(ctx, c); err != nil {
		t.Fatal(err)
	}
	counter := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dl_total", Help: "x"}, []string{"reason"})
	dl, err := c.NewDeadLetters("enricher", nil, counter)
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	big := make([]byte, c.MaxMessageBytes)
	err = dl.Send(ctx,
		bus.Letter{Msg: kafka.Message{Topic: c.Topics.Raw, Partition: 2, Offset: 41, Key: []byte("a"), Value: []byte("{not json")}, Reason: bus.ReasonMalformed, Err: errors.New("invalid character")},
		bus.Letter{Msg: kafka.Message{Topic: c.Topics.Raw, Key: []byte("b"), Value: big}, Reason: bus.ReasonTooLarge},
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(counter.WithLabelValues(bus.ReasonMalformed)); got != 1 {
		t.Errorf("malformed counter = %v", got)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: c.Brokers, Topic: c.Topics.DeadLetter, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	got := map[string]map[string]string{}
	// Messages may sit in any partition: read all partitions.
	cl, _ := c.Client()
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{c.Topics.DeadLetter}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range md.Topics[0].Partitions {
		pr := kafka.NewReader(kafka.ReaderConfig{Brokers: c.Brokers, Topic: c.Topics.DeadLetter, Partition: p.ID, MaxWait: 100 * time.Millisecond})
		for {
			rctx, rc := context.WithTimeout(ctx, 500*time.Millisecond)
			m, err := pr.ReadMessage(rctx)
			rc()
			if err != nil {
				break
			}
			h := map[string]string{"len": fmt.Sprint(len(m.Value))}
			for _, x := range m.Headers {
				h[x.Key] = string(x.Value)
			}
			got[string(m.Key)] = h
		}
		pr.Close()
	}
	if a := got["a"]; a[bus.HeaderDLQReason] != "malformed" || a[bus.HeaderDLQError] != "invalid character" ||
		a[bus.HeaderDLQOffset] != "41" || a[bus.HeaderDLQPartition] != "2" || a[bus.HeaderDLQStage] != "enricher" {
		t.Errorf("dead letter a headers = %v", a)
	}
	if b := got["b"]; b[bus.HeaderDLQTruncated] != "true" || b["len"] != fmt.Sprint(c.MaxMessageBytes/2) {
		t.Errorf("dead letter b = %v", b)
	}
}

// TestWrongPasswordFailsFast: refused credentials are reported at once as
// ErrAuth, not retried for minutes.
func TestWrongPasswordFailsFast(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("PLAIN", "newsflow", "right"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	tests := []struct {
		password string
		wantErr  error
	}{
		{"wrong", bus.ErrAuth},
		{"right", nil},
	}
	for _, tc := range tests {
		t.Run(tc.password, func(t *testing.T) {
			t.Setenv("NEWSFLOW_KAFKA_SASL_PASSWORD", tc.password)
			c := bus.DefaultConfig()
			c.Brokers = cluster.ListenAddrs()
			c.SASLMechanism, c.SASLUsername = "plain", "newsflow"
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			err := bus.EnsureTopicsLogged(ctx, c, quiet)
			if !errors.Is(err, tc.wantErr) && !(tc.wantErr == nil && err == nil) {
				t.Fatalf("EnsureTopics = %v, want %v", err, tc.wantErr)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
			if strings.Contains(fmt.Sprint(err), tc.password) {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

// RunStages prepares the next batch while the current one is handled: here
// the first Handle waits until the second batch has been prepared, which
// without the overlap would never happen. At shutdown the prepared batch is
// dropped uncommitted, and a new consumer of the group gets it again.
func TestRunStagesPreparesAhead(t *testing.T) {
	c := testConfig(t)
	c.Partitions = 1 // one partition: batches in offset order
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := bus.EnsureTopics(ctx, c); err != nil {
		t.Fatal(err)
	}
	w, err := c.NewWriter(c.Topics.Raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	const n = 30
	var msgs []kafka.Message
	for i := range n {
		msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprintf("k%02d", i)), Value: []byte(fmt.Sprintf("v%02d", i))})
	}
	if err := w.Write(ctx, msgs...); err != nil {
		t.Fatal(err)
	}

	group := "g-" + t.Name()
	cc := bus.ConsumerConfig{GroupID: group, Topic: c.Topics.Raw, BatchSize: 10, BatchWait: time.Second}
	cons, err := c.NewConsumer(cc, quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	secondPrepared := make(chan struct{})
	var nPrepared atomic.Int32 // Prepare runs on the fetching goroutine
	var handled []string
	rctx, stop := context.WithCancel(ctx)
	err = bus.RunStages(rctx, cons, bus.Stages[string]{
		Prepare: func(b []kafka.Message) string {
			if nPrepared.Add(1) == 2 {
				close(secondPrepared)
			}
			return string(b[0].Key)
		},
		Handle: func(ctx context.Context, b []kafka.Message, first string) error {
			if first != string(b[0].Key) {
				t.Errorf("Handle got %q prepared for the batch starting at %q", first, b[0].Key)
			}
			handled = append(handled, first)
			if len(handled) == 1 {
				select {
				case <-secondPrepared:
				case <-ctx.Done():
					return ctx.Err()
				}
				return nil
			}
			// Second batch handled: stop while the third is prepared.
			for nPrepared.Load() < 3 && ctx.Err() == nil {
				time.Sleep(10 * time.Millisecond)
			}
			stop()
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(handled, ",") != "k00,k10" {
		t.Fatalf("handled batches starting at %v, want k00,k10", handled)
	}

	// The third batch was prepared, never handled: it was not committed.
	cons2, err := c.NewConsumer(cc, quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	var again []string
	rctx2, stop2 := context.WithCancel(ctx)
	if err := cons2.Run(rctx2, func(ctx context.Context, b []kafka.Message) error {
		for _, m := range b {
			again = append(again, string(m.Key))
		}
		if len(again) >= n-20 {
			stop2()
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(again) != n-20 || again[0] != "k20" {
		t.Fatalf("after the restart the group got %v, want k20 to k29", again)
	}
}
