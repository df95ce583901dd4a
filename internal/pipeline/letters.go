package pipeline

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/segmentio/kafka-go"

	"github.com/newsflow/newsflow/internal/bus"
)

// decodeMessage decodes msg with decode, or returns the dead letter that
// says why it cannot be processed: too large, or the decode error's reason.
func decodeMessage[T any](msg kafka.Message, max int, decode func([]byte) (T, error)) (T, *bus.Letter) {
	var zero T
	if len(msg.Value) > max {
		return zero, &bus.Letter{Msg: msg, Reason: bus.ReasonTooLarge, Err: fmt.Errorf("message of %d bytes exceeds %d", len(msg.Value), max)}
	}
	v, err := decode(msg.Value)
	if err != nil {
		return zero, &bus.Letter{Msg: msg, Reason: bus.ReasonOf(err), Err: err}
	}
	return v, nil
}

// deadLetter logs each letter once, where it is handled, and writes them to
// the dead-letter topic; it returns when they are acknowledged.
func deadLetter(ctx context.Context, dlq *bus.DeadLetters, logger *slog.Logger, letters []bus.Letter) error {
	for _, l := range letters {
		logger.Warn("dead-lettering message", slog.String("reason", l.Reason), slog.String("topic", l.Msg.Topic),
			slog.Int("partition", l.Msg.Partition), slog.Int64("offset", l.Msg.Offset), slog.Any("error", l.Err))
	}
	return dlq.Send(ctx, letters...)
}
