// Package bus is newsflow's Kafka wiring on github.com/segmentio/kafka-go:
// topic creation, synchronous acknowledged writers, batch consumers in
// consumer groups that commit only after the handler made its output durable,
// the dead-letter topic, client statistics as Prometheus metrics, and the
// embedded Kafka-protocol broker used when no brokers are configured.
//
// Delivery contract: a Consumer hands a batch to its Handler and commits the
// batch's offsets only when the Handler returned nil. A Handler returns nil
// only once everything it produced (output records, dead letters, database
// rows) is durable. Together this is at-least-once delivery: a crash between
// the output and the commit redelivers the batch, which the next stage
// tolerates because article ids are stable and storage is idempotent.
package bus

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/newsflow/newsflow/internal/flagenv"
	"github.com/newsflow/newsflow/pkg/events"
)

// Topics names the three topics of the pipeline.
type Topics struct {
	Raw        string
	Enriched   string
	DeadLetter string
}

// Config is the Kafka configuration shared by every stage.
type Config struct {
	// Brokers is the bootstrap list; empty means "start the embedded broker".
	Brokers           []string
	Topics            Topics
	Partitions        int
	ReplicationFactor int
	// MaxMessageBytes bounds a message this pipeline writes or accepts;
	// larger inputs are dead-lettered as too_large.
	MaxMessageBytes int

	TLS              bool
	TLSCAFile        string
	TLSSkipVerify    bool
	SASLMechanism    string // "", plain, scram-sha-256, scram-sha-512
	SASLUsername     string
	SASLPasswordFile string
	// saslPassword comes from NEWSFLOW_KAFKA_SASL_PASSWORD or the password
	// file; it is never a flag (flags show in process lists) and never logged.
	saslPassword string
}

// DefaultConfig returns the defaults: the standard topic names, 3 partitions,
// replication factor 1, 1 MiB messages.
func DefaultConfig() Config {
	return Config{
		Topics:            Topics{Raw: events.TopicRaw, Enriched: events.TopicEnriched, DeadLetter: events.TopicDeadLetter},
		Partitions:        3,
		ReplicationFactor: 1,
		MaxMessageBytes:   1 << 20,
	}
}

// RegisterFlags binds the Kafka flags to c (environment defaults NEWSFLOW_*).
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	flagenv.List(fs, &c.Brokers, "brokers", c.Brokers, "Kafka bootstrap brokers host:port; empty starts the embedded broker")
	flagenv.String(fs, &c.Topics.Raw, "topic-raw", c.Topics.Raw, "topic of raw articles")
	flagenv.String(fs, &c.Topics.Enriched, "topic-enriched", c.Topics.Enriched, "topic of enriched articles")
	flagenv.String(fs, &c.Topics.DeadLetter, "topic-dlq", c.Topics.DeadLetter, "dead-letter topic")
	flagenv.Int(fs, &c.Partitions, "partitions", c.Partitions, "partitions of topics created at start")
	flagenv.Int(fs, &c.ReplicationFactor, "replication-factor", c.ReplicationFactor, "replication factor of topics created at start")
	flagenv.Int(fs, &c.MaxMessageBytes, "max-message-bytes", c.MaxMessageBytes, "largest message written or accepted")
	flagenv.Bool(fs, &c.TLS, "kafka-tls", c.TLS, "connect to Kafka over TLS")
	flagenv.String(fs, &c.TLSCAFile, "kafka-tls-ca", c.TLSCAFile, "PEM file of CA certificates for Kafka TLS")
	flagenv.Bool(fs, &c.TLSSkipVerify, "kafka-tls-insecure-skip-verify", c.TLSSkipVerify, "do not verify the Kafka server certificate (testing only)")
	flagenv.String(fs, &c.SASLMechanism, "kafka-sasl-mechanism", c.SASLMechanism, "SASL mechanism: plain, scram-sha-256 or scram-sha-512")
	flagenv.String(fs, &c.SASLUsername, "kafka-sasl-username", c.SASLUsername, "SASL user name")
	flagenv.String(fs, &c.SASLPasswordFile, "kafka-sasl-password-file", c.SASLPasswordFile, "file holding the SASL password (or set NEWSFLOW_KAFKA_SASL_PASSWORD)")
}

// Validate checks the configuration once at start and loads secrets. Errors
// name the flag.
func (c *Config) Validate() error {
	for _, b := range c.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			return flagenv.Invalid("brokers", b, "want host:port")
		}
	}
	switch {
	case c.Topics.Raw == "":
		return flagenv.Invalid("topic-raw", "", "must not be empty")
	case c.Topics.Enriched == "":
		return flagenv.Invalid("topic-enriched", "", "must not be empty")
	case c.Topics.DeadLetter == "":
		return flagenv.Invalid("topic-dlq", "", "must not be empty")
	case c.Partitions < 1 || c.Partitions > 10000:
		return flagenv.Invalid("partitions", c.Partitions, "want 1 to 10000")
	case c.ReplicationFactor < 1 || c.ReplicationFactor > 32:
		return flagenv.Invalid("replication-factor", c.ReplicationFactor, "want 1 to 32")
	case c.MaxMessageBytes < 1024:
		return flagenv.Invalid("max-message-bytes", c.MaxMessageBytes, "want at least 1024")
	}
	switch strings.ToLower(c.SASLMechanism) {
	case "":
	case "plain", "scram-sha-256", "scram-sha-512":
		if c.SASLUsername == "" {
			return flagenv.Invalid("kafka-sasl-username", "", "required with -kafka-sasl-mechanism")
		}
		c.saslPassword = os.Getenv("NEWSFLOW_KAFKA_SASL_PASSWORD")
		if c.SASLPasswordFile != "" {
			b, err := os.ReadFile(c.SASLPasswordFile)
			if err != nil {
				return flagenv.Invalid("kafka-sasl-password-file", c.SASLPasswordFile, "%v", err)
			}
			c.saslPassword = strings.TrimRight(string(b), "\r\n")
		}
	default:
		return flagenv.Invalid("kafka-sasl-mechanism", c.SASLMechanism, "want plain, scram-sha-256 or scram-sha-512")
	}
	if c.TLSCAFile != "" {
		if _, err := os.ReadFile(c.TLSCAFile); err != nil {
			return flagenv.Invalid("kafka-tls-ca", c.TLSCAFile, "%v", err)
		}
	}
	return nil
}

func (c Config) tlsConfig() (*tls.Config, error) {
	if !c.TLS {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.TLSSkipVerify} //nolint:gosec // opt-in for tests
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("read kafka CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka CA %s: no PEM certificates", c.TLSCAFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

func (c Config) mechanism() (sasl.Mechanism, error) {
	switch strings.ToLower(c.SASLMechanism) {
	case "":
		return nil, nil
	case "plain":
		return plain.Mechanism{Username: c.SASLUsername, Password: c.saslPassword}, nil
	case "scram-sha-256":
		return scram.Mechanism(scram.SHA256, c.SASLUsername, c.saslPassword)
	case "scram-sha-512":
		return scram.Mechanism(scram.SHA512, c.SASLUsername, c.saslPassword)
	}
	return nil, fmt.Errorf("unknown SASL mechanism %q", c.SASLMechanism)
}

// transport returns the kafka-go transport for writers and admin requests.
func (c Config) transport() (*kafka.Transport, error) {
	tc, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	m, err := c.mechanism()
	if err != nil {
		return nil, err
	}
	return &kafka.Transport{TLS: tc, SASL: m, DialTimeout: 10 * time.Second, MetadataTTL: 10 * time.Second}, nil
}

// dialer returns the kafka-go dialer for readers.
func (c Config) dialer(clientID string) (*kafka.Dialer, error) {
	tc, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	m, err := c.mechanism()
	if err != nil {
		return nil, err
	}
	return &kafka.Dialer{ClientID: clientID, Timeout: 10 * time.Second, DualStack: true, TLS: tc, SASLMechanism: m}, nil
}

// Client returns a kafka-go client for admin requests.
func (c Config) Client() (*kafka.Client, error) {
	t, err := c.transport()
	if err != nil {
		return nil, err
	}
	return &kafka.Client{Addr: kafka.TCP(c.Brokers...), Timeout: 15 * time.Second, Transport: t}, nil
}
