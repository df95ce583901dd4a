package feed

import (
	"errors"
	"flag"
	"strconv"
	"time"

	"github.com/newsflow/newsflow/internal/flagenv"
)

// Config is the fetcher's configuration. DefaultConfig gives working values
// for every field; RegisterFlags binds them to command-line flags.
type Config struct {
	// FeedsPath is the feed list: YAML (.yaml, .yml) or OPML (anything else
	// that starts with an XML document). Required.
	FeedsPath string
	// Interval is the default time between two polls of a feed.
	Interval time.Duration
	// MinInterval and MaxInterval bound every feed's poll interval, whatever
	// the feed list or the server asks. An Interval below MinInterval lowers
	// MinInterval with it unless MinInterval was set explicitly.
	MinInterval, MaxInterval time.Duration
	// StatePath is the state store file (SQLite). Required.
	StatePath string
	// Workers is the global limit of polls in flight.
	Workers int
	// PerHost is the limit of requests in flight to one host.
	PerHost int
	// AllowPrivate lets the fetcher connect to loopback, private, link-local
	// and metadata addresses (tests, local feeds).
	AllowPrivate bool
	// FullText turns full-text extraction on for every feed (the feed list
	// can turn it on or off per feed).
	FullText bool
	// FullTextWorkers is the limit of article pages fetched at once.
	FullTextWorkers int
	// UserAgent is sent with every request.
	UserAgent string
	// MaxBody is the largest body read, after decompression, in bytes.
	MaxBody int64
	// BackoffMax is the ceiling of the per-feed exponential backoff.
	BackoffMax time.Duration
	// ConnectTimeout, TLSTimeout, HeaderTimeout and Timeout bound the TCP
	// connect, the TLS handshake, the wait for response headers and the
	// whole request including the body.
	ConnectTimeout, TLSTimeout, HeaderTimeout, Timeout time.Duration
	// Jitter is the fraction (0..0.5) by which each next-poll time is moved
	// at random, so that feeds with the same interval do not fire together.
	Jitter float64
	// Adaptive lengthens the interval of feeds that rarely publish, up to
	// MaxInterval, and shortens it again when they do.
	Adaptive bool
	// SeenRetention is how long the id of an item that left its feed is
	// remembered; SeenPerFeed caps the ids remembered per feed.
	SeenRetention time.Duration
	SeenPerFeed   int
	// PublishRetries is how many times one poll retries a failed Publish
	// before it gives up and polls the feed again later.
	PublishRetries int
	// ReloadCheck is how often the feed list file is checked for changes
	// (0 turns watching off; SIGHUP through Reload always works).
	ReloadCheck time.Duration
	// ShutdownGrace is how long a publish already under way at shutdown may
	// take to be acknowledged before it is cancelled.
	ShutdownGrace time.Duration

	minIntervalSet bool
	// pollAllAtStart ignores the stored next-poll times (benchmarks).
	pollAllAtStart bool
}

// DefaultConfig returns the defaults: 15 m interval within [1 m, 24 h],
// 64 workers, 2 per host, 15 MiB bodies, 6 h backoff ceiling.
func DefaultConfig() Config {
	return Config{
		Interval:        15 * time.Minute,
		MinInterval:     time.Minute,
		MaxInterval:     24 * time.Hour,
		Workers:         64,
		PerHost:         2,
		FullTextWorkers: 4,
		UserAgent:       "newsflow/1.0 (+https://github.com/newsflow/newsflow)",
		MaxBody:         15 << 20,
		BackoffMax:      6 * time.Hour,
		ConnectTimeout:  10 * time.Second,
		TLSTimeout:      10 * time.Second,
		HeaderTimeout:   20 * time.Second,
		Timeout:         60 * time.Second,
		Jitter:          0.1,
		SeenRetention:   30 * 24 * time.Hour,
		SeenPerFeed:     5000,
		PublishRetries:  3,
		ReloadCheck:     5 * time.Second,
		ShutdownGrace:   10 * time.Second,
	}
}

// RegisterFlags binds every fetcher flag to c, with c's current values as
// defaults and NEWSFLOW_* environment variables applied by flagenv.Parse.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	flagenv.String(fs, &c.FeedsPath, "feeds", c.FeedsPath, "feed list, YAML or OPML")
	flagenv.Duration(fs, &c.Interval, "interval", c.Interval, "default poll interval per feed")
	fs.Func("min-interval", "lowest poll interval, whatever the feed list or server asks (default "+c.MinInterval.String()+") (env "+flagenv.EnvName("min-interval")+")", func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		c.MinInterval, c.minIntervalSet = d, true
		return nil
	})
	flagenv.Duration(fs, &c.MaxInterval, "max-interval", c.MaxInterval, "highest poll interval")
	flagenv.String(fs, &c.StatePath, "state", c.StatePath, "state store file (SQLite): seen items, HTTP validators, schedule, health")
	flagenv.Int(fs, &c.Workers, "workers", c.Workers, "polls in flight at most")
	flagenv.Int(fs, &c.PerHost, "per-host", c.PerHost, "requests in flight to one host at most")
	flagenv.Bool(fs, &c.AllowPrivate, "allow-private", c.AllowPrivate, "allow loopback, private, link-local and metadata addresses")
	flagenv.Bool(fs, &c.FullText, "full-text", c.FullText, "fetch each article page and extract its text into content")
	flagenv.Int(fs, &c.FullTextWorkers, "full-text-workers", c.FullTextWorkers, "article pages fetched at once at most")
	flagenv.String(fs, &c.UserAgent, "user-agent", c.UserAgent, "User-Agent header")
	flagenv.Int64(fs, &c.MaxBody, "max-body", c.MaxBody, "largest response body in bytes, after decompression")
	flagenv.Duration(fs, &c.BackoffMax, "backoff-max", c.BackoffMax, "ceiling of the per-feed retry backoff")
	flagenv.Duration(fs, &c.Timeout, "fetch-timeout", c.Timeout, "total time limit of one request")
	flagenv.Float(fs, &c.Jitter, "jitter", c.Jitter, "fraction (0-0.5) by which each next poll time is moved at random")
	flagenv.Bool(fs, &c.Adaptive, "adaptive", c.Adaptive, "poll feeds that rarely publish less often")
	flagenv.Duration(fs, &c.SeenRetention, "seen-retention", c.SeenRetention, "how long ids of items gone from their feed are remembered")
	flagenv.Duration(fs, &c.ReloadCheck, "reload-check", c.ReloadCheck, "how often the feed list file is checked for changes (0: only on SIGHUP)")
}

// Validate reports the first invalid field, naming its flag and what is
// allowed.
func (c *Config) Validate() error {
	switch {
	case c.FeedsPath == "":
		return flagenv.Invalid("feeds", c.FeedsPath, "a feed list file (YAML or OPML) is required")
	case c.StatePath == "":
		return flagenv.Invalid("state", c.StatePath, "a state store path is required")
	case c.Interval < time.Second:
		return flagenv.Invalid("interval", c.Interval, "must be at least 1s")
	case c.MinInterval < time.Second:
		return flagenv.Invalid("min-interval", c.MinInterval, "must be at least 1s")
	case c.minIntervalSet && c.Interval < c.MinInterval:
		return flagenv.Invalid("interval", c.Interval, "must not be below -min-interval %s", c.MinInterval)
	case c.MaxInterval < c.MinInterval || c.MaxInterval < c.Interval:
		return flagenv.Invalid("max-interval", c.MaxInterval, "must be at least -interval and -min-interval")
	case c.Workers < 1 || c.Workers > 10000:
		return flagenv.Invalid("workers", c.Workers, "must be between 1 and 10000")
	case c.PerHost < 1 || c.PerHost > 1000:
		return flagenv.Invalid("per-host", c.PerHost, "must be between 1 and 1000")
	case c.FullTextWorkers < 1 || c.FullTextWorkers > 1000:
		return flagenv.Invalid("full-text-workers", c.FullTextWorkers, "must be between 1 and 1000")
	case c.UserAgent == "":
		return flagenv.Invalid("user-agent", c.UserAgent, "must not be empty")
	case c.MaxBody < 1024:
		return flagenv.Invalid("max-body", c.MaxBody, "must be at least 1024 bytes")
	case c.BackoffMax < time.Second:
		return flagenv.Invalid("backoff-max", c.BackoffMax, "must be at least 1s")
	case c.Timeout < time.Second:
		return flagenv.Invalid("fetch-timeout", c.Timeout, "must be at least 1s")
	case c.ConnectTimeout <= 0 || c.TLSTimeout <= 0 || c.HeaderTimeout <= 0:
		return errors.New("feed config: connect, TLS and header timeouts must be positive")
	case c.Jitter < 0 || c.Jitter > 0.5:
		return flagenv.Invalid("jitter", strconv.FormatFloat(c.Jitter, 'g', -1, 64), "must be between 0 and 0.5")
	case c.SeenRetention < time.Hour:
		return flagenv.Invalid("seen-retention", c.SeenRetention, "must be at least 1h")
	case c.SeenPerFeed < 100:
		return errors.New("feed config: SeenPerFeed must be at least 100")
	case c.PublishRetries < 0:
		return errors.New("feed config: PublishRetries must not be negative")
	case c.ShutdownGrace < 0:
		return errors.New("feed config: ShutdownGrace must not be negative")
	case c.ReloadCheck < 0:
		return flagenv.Invalid("reload-check", c.ReloadCheck, "must not be negative")
	}
	return nil
}

// effective returns c with MinInterval lowered to Interval when Interval is
// below a default MinInterval.
func (c Config) effective() Config {
	if c.Interval < c.MinInterval && !c.minIntervalSet {
		c.MinInterval = c.Interval
	}
	return c
}
