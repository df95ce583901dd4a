package bus

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/pkg/events"
)

// Reasons a message is dead-lettered. They are the values of the
// newsflow_dlq_reason header and of the reason label of the stages'
// dead-letter counters.
const (
	ReasonMalformed     = "malformed"      // not JSON of the expected shape
	ReasonSchemaVersion = "schema_version" // schema_version missing or unsupported
	ReasonInvalid       = "invalid"        // decodes but breaks the contract
	ReasonTooLarge      = "too_large"      // larger than the configured maximum
	ReasonRejected      = "rejected"       // storage refused it for good
)

// Reasons lists every reason, for pre-setting counters.
var Reasons = []string{ReasonMalformed, ReasonSchemaVersion, ReasonInvalid, ReasonTooLarge, ReasonRejected}

// Headers added to a dead-lettered message, beside its original headers.
const (
	HeaderDLQReason    = "newsflow_dlq_reason"
	HeaderDLQError     = "newsflow_dlq_error"
	HeaderDLQStage     = "newsflow_dlq_stage"
	HeaderDLQTopic     = "newsflow_dlq_source_topic"
	HeaderDLQPartition = "newsflow_dlq_source_partition"
	HeaderDLQOffset    = "newsflow_dlq_source_offset"
	HeaderDLQTime      = "newsflow_dlq_time"
	HeaderDLQTruncated = "newsflow_dlq_truncated"
)

// ReasonOf classifies a decode error from pkg/events.
func ReasonOf(err error) string {
	switch {
	case errors.Is(err, events.ErrSchemaVersion):
		return ReasonSchemaVersion
	case errors.Is(err, events.ErrInvalid):
		return ReasonInvalid
	default:
		return ReasonMalformed
	}
}

// DeadLetters writes messages that can never be processed to the dead-letter
// topic with headers saying why, where they came from and when.
type DeadLetters struct {
	w       *Writer
	stage   string
	maxSize int
	counter *prometheus.CounterVec
}

// NewDeadLetters returns a dead-letter writer for stage. counter (labels:
// reason) counts dead-lettered messages; it may be nil.
func (c Config) NewDeadLetters(stage string, metrics *Metrics, counter *prometheus.CounterVec) (*DeadLetters, error) {
	w, err := c.NewWriter(c.Topics.DeadLetter, metrics)
	if err != nil {
		return nil, err
	}
	return &DeadLetters{w: w, stage: stage, maxSize: c.MaxMessageBytes / 2, counter: counter}, nil
}

// Letter is one message to dead-letter and why.
type Letter struct {
	Msg    kafka.Message
	Reason string
	Err    error
}

// Send writes the letters to the dead-letter topic and returns once all are
// acknowledged, retrying until ctx is done. A value larger than half the
// maximum message size is truncated (header newsflow_dlq_truncated=true).
func (d *DeadLetters) Send(ctx context.Context, letters ...Letter) error {
	if len(letters) == 0 {
		return nil
	}
	msgs := make([]kafka.Message, 0, len(letters))
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for _, l := range letters {
		value := l.Msg.Value
		hs := append([]kafka.Header(nil), l.Msg.Headers...)
		if len(value) > d.maxSize {
			value = value[:d.maxSize]
			hs = append(hs, kafka.Header{Key: HeaderDLQTruncated, Value: []byte("true")})
		}
		errText := ""
		if l.Err != nil {
			errText = l.Err.Error()
			if len(errText) > 2048 {
				errText = errText[:2048]
			}
		}
		hs = append(hs,
			kafka.Header{Key: HeaderDLQReason, Value: []byte(l.Reason)},
			kafka.Header{Key: HeaderDLQError, Value: []byte(errText)},
			kafka.Header{Key: HeaderDLQStage, Value: []byte(d.stage)},
			kafka.Header{Key: HeaderDLQTopic, Value: []byte(l.Msg.Topic)},
			kafka.Header{Key: HeaderDLQPartition, Value: []byte(strconv.Itoa(l.Msg.Partition))},
			kafka.Header{Key: HeaderDLQOffset, Value: []byte(strconv.FormatInt(l.Msg.Offset, 10))},
			kafka.Header{Key: HeaderDLQTime, Value: []byte(now)},
		)
		key := l.Msg.Key
		if len(key) > 1024 {
			key = key[:1024]
		}
		msgs = append(msgs, kafka.Message{Key: key, Value: value, Headers: hs})
	}
	if err := d.w.WriteRetry(ctx, nil, msgs...); err != nil {
		return err
	}
	if d.counter != nil {
		for _, l := range letters {
			d.counter.WithLabelValues(l.Reason).Inc()
		}
	}
	return nil
}

// Close closes the dead-letter writer.
func (d *DeadLetters) Close() error { return d.w.Close() }
