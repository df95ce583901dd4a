package bus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"
)

// Handler processes one batch of messages. It returns nil only when the
// batch's output is durable (written and acknowledged, stored, or
// dead-lettered); the Consumer then commits the batch's offsets. A non-nil
// error stops the Consumer without committing, so the batch is delivered
// again after a restart or rebalance. Handlers retry transient failures
// themselves and return an error only when ctx is done or the failure is
// fatal.
type Handler func(ctx context.Context, msgs []kafka.Message) error

// ConsumerConfig says what a Consumer reads and how it batches.
type ConsumerConfig struct {
	GroupID   string
	Topic     string
	ClientID  string
	BatchSize int           // at most this many messages per batch
	BatchWait time.Duration // at most this long waiting to fill a batch
	// DrainTimeout bounds how long an in-flight batch may still run after
	// shutdown begins; past it the batch is abandoned uncommitted.
	DrainTimeout time.Duration
}

// Consumer reads a topic in a consumer group and feeds batches to a Handler.
type Consumer struct {
	r       *kafka.Reader
	cfg     ConsumerConfig
	bus     Config
	logger  *slog.Logger
	metrics *Metrics
}

// NewConsumer returns a consumer in group cc.GroupID reading cc.Topic from
// the earliest offset when the group has none.
func (c Config) NewConsumer(cc ConsumerConfig, logger *slog.Logger, metrics *Metrics) (*Consumer, error) {
	if cc.BatchSize <= 0 {
		cc.BatchSize = 100
	}
	if cc.BatchWait <= 0 {
		cc.BatchWait = 100 * time.Millisecond
	}
	if cc.DrainTimeout <= 0 {
		cc.DrainTimeout = 10 * time.Second
	}
	d, err := c.dialer(cc.ClientID)
	if err != nil {
		return nil, err
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:           c.Brokers,
		GroupID:           cc.GroupID,
		GroupTopics:       []string{cc.Topic},
		Dialer:            d,
		MinBytes:          1,
		MaxBytes:          c.MaxMessageBytes * 10,
		MaxWait:           250 * time.Millisecond,
		CommitInterval:    0, // synchronous commits, only through CommitMessages
		StartOffset:       kafka.FirstOffset,
		HeartbeatInterval: 2 * time.Second,
		SessionTimeout:    20 * time.Second,
		RebalanceTimeout:  20 * time.Second,
		JoinGroupBackoff:  time.Second,
		ReadBackoffMin:    50 * time.Millisecond,
		ReadBackoffMax:    time.Second,
		MaxAttempts:       5,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			logger.Debug("kafka reader", slog.String("detail", fmt.Sprintf(msg, args...)))
		}),
	})
	if metrics != nil {
		metrics.addReader(r, cc.Topic)
	}
	return &Consumer{r: r, cfg: cc, bus: c, logger: logger, metrics: metrics}, nil
}

// Run fetches batches and hands them to h until ctx is done or h fails. When
// ctx is done it stops fetching, lets the in-flight batch finish (within
// DrainTimeout) and commit, and returns nil. Run closes the reader, leaving
// the group, before it returns. While it runs, and when the consumer has
// Metrics, it also keeps them (client statistics and the group's lag) up to
// date. The next batch is fetched while h runs (see RunStages).
func (c *Consumer) Run(ctx context.Context, h Handler) error {
	return RunStages(ctx, c, Stages[struct{}]{
		Prepare: func([]kafka.Message) struct{} { return struct{}{} },
		Handle:  func(ctx context.Context, msgs []kafka.Message, _ struct{}) error { return h(ctx, msgs) },
	})
}

// Stages is a Handler split in two, so that one consumer keeps a core busy
// while it waits on its output. Prepare does a batch's CPU work (decoding) and
// runs on the next batch while Handle runs on the current one. Handle has the
// contract of Handler; Handle and the commits of offsets stay in batch order.
type Stages[T any] struct {
	Prepare func(msgs []kafka.Message) T
	Handle  func(ctx context.Context, msgs []kafka.Message, prepared T) error
}

// RunStages is Run for a handler in two stages. It holds at most two batches:
// the one being handled and the next one, prepared. When ctx is done the
// prepared batch is dropped uncommitted (it is delivered again: at least
// once) and the batch being handled finishes and commits as in Run.
func RunStages[T any](ctx context.Context, c *Consumer, s Stages[T]) (err error) {
	// Consumers sharing Metrics (members of one group in one process) keep
	// them up to date once.
	if c.metrics != nil && c.metrics.monitored.CompareAndSwap(false, true) {
		defer c.metrics.monitored.Store(false)
		mctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go c.metrics.Run(mctx, 5*time.Second)
		go c.bus.RunLagMonitor(mctx, c.cfg.GroupID, c.cfg.Topic, c.metrics, 10*time.Second, c.logger)
	}
	defer func() {
		if cerr := c.r.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close reader: %w", cerr)
		}
	}()
	// hctx outlives ctx by DrainTimeout, so a batch in flight at shutdown
	// can finish and commit.
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	stop := context.AfterFunc(ctx, func() {
		time.AfterFunc(c.cfg.DrainTimeout, hcancel)
	})
	defer stop()

	type prepared struct {
		msgs []kafka.Message
		v    T
	}
	next := make(chan prepared) // unbuffered: one batch prepared ahead
	fctx, fcancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(next)
		for attempt := 0; ; {
			batch, ferr := c.fetchBatch(fctx)
			if len(batch) == 0 {
				if fctx.Err() != nil {
					return
				}
				if ferr != nil {
					c.logger.Warn("kafka fetch failed", slog.String("topic", c.cfg.Topic), slog.Any("error", ferr))
					if !Sleep(fctx, Backoff(attempt, 5*time.Second)) {
						return
					}
					attempt++
				}
				continue
			}
			attempt = 0
			p := prepared{batch, s.Prepare(batch)}
			select {
			case next <- p:
			case <-fctx.Done():
				return
			}
		}
	}()
	// The fetching goroutine ends before the reader closes.
	defer func() {
		fcancel()
		<-done
	}()

	for p := range next {
		if ctx.Err() != nil {
			return nil
		}
		if err := s.Handle(hctx, p.msgs, p.v); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("handle batch from %s: %w", c.cfg.Topic, err)
		}
		if err := c.commit(hctx, p.msgs); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	return nil
}

func (c *Consumer) commit(ctx context.Context, batch []kafka.Message) error {
	for attempt := 0; ; attempt++ {
		err := c.r.CommitMessages(ctx, batch...)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || attempt >= 5 {
			// The batch is redelivered after restart or rebalance: at least once.
			return fmt.Errorf("commit offsets on %s: %w", c.cfg.Topic, err)
		}
		c.logger.Warn("commit failed, retrying", slog.String("topic", c.cfg.Topic), slog.Any("error", err))
		if !Sleep(ctx, Backoff(attempt, 2*time.Second)) {
			return fmt.Errorf("commit offsets on %s: %w", c.cfg.Topic, err)
		}
	}
}

// fetchBatch blocks for the first message, then takes more until the batch
// is full or BatchWait passed.
func (c *Consumer) fetchBatch(ctx context.Context) ([]kafka.Message, error) {
	m, err := c.r.FetchMessage(ctx)
	if err != nil {
		if errors.Is(err, io.EOF) || ctx.Err() != nil {
			return nil, nil
		}
		return nil, err
	}
	batch := []kafka.Message{m}
	wctx, cancel := context.WithTimeout(ctx, c.cfg.BatchWait)
	defer cancel()
	for len(batch) < c.cfg.BatchSize {
		m, err := c.r.FetchMessage(wctx)
		if err != nil {
			break
		}
		batch = append(batch, m)
	}
	return batch, nil
}

// Lag returns the reader's view of its lag (messages behind the high-water
// mark of the partition it read last); -1 when unknown.
func (c *Consumer) Lag() int64 { return c.r.Lag() }
