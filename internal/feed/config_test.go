package feed

import (
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/newsflow/newsflow/internal/flagenv"
)

func TestValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.FeedsPath, ok.StatePath = "feeds.yaml", "state.db"
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	tests := []struct {
		flag   string
		mutate func(*Config)
	}{
		{"-feeds", func(c *Config) { c.FeedsPath = "" }},
		{"-state", func(c *Config) { c.StatePath = "" }},
		{"-interval", func(c *Config) { c.Interval = 0 }},
		{"-max-interval", func(c *Config) { c.MaxInterval = time.Second }},
		{"-workers", func(c *Config) { c.Workers = 0 }},
		{"-per-host", func(c *Config) { c.PerHost = 0 }},
		{"-max-body", func(c *Config) { c.MaxBody = 10 }},
		{"-user-agent", func(c *Config) { c.UserAgent = "" }},
		{"-backoff-max", func(c *Config) { c.BackoffMax = 0 }},
		{"-fetch-timeout", func(c *Config) { c.Timeout = time.Millisecond }},
		{"-jitter", func(c *Config) { c.Jitter = 0.9 }},
		{"-full-text-workers", func(c *Config) { c.FullTextWorkers = 0 }},
	}
	for _, tc := range tests {
		c := ok
		tc.mutate(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.flag+":") {
			t.Errorf("%s: err = %v, want one naming the flag", tc.flag, err)
		}
	}
}

func TestFlagsAndEnvironment(t *testing.T) {
	t.Setenv("NEWSFLOW_ALLOW_PRIVATE", "true")
	t.Setenv("NEWSFLOW_WORKERS", "7")
	c := DefaultConfig()
	fs := flag.NewFlagSet("fetcher", flag.ContinueOnError)
	c.RegisterFlags(fs)
	err := flagenv.Parse(fs, []string{"-feeds", "f.opml", "-state", "s.db", "-interval", "30s", "-workers", "9", "-per-host", "3", "-max-body", "2048", "-full-text", "-user-agent", "ua/1"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.AllowPrivate || c.Workers != 9 || c.PerHost != 3 || c.MaxBody != 2048 || !c.FullText || c.UserAgent != "ua/1" || c.FeedsPath != "f.opml" || c.StatePath != "s.db" {
		t.Errorf("flags not applied: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	// --interval 30s lowers the default 1m minimum with it.
	if e := c.effective(); e.MinInterval != 30*time.Second || e.successInterval(30*time.Second, 0, 0) != 30*time.Second {
		t.Errorf("effective min interval %v", e.MinInterval)
	}
	// An explicit minimum above the interval is a contradiction.
	fs2 := flag.NewFlagSet("fetcher", flag.ContinueOnError)
	c2 := DefaultConfig()
	c2.RegisterFlags(fs2)
	if err := flagenv.Parse(fs2, []string{"-feeds", "f", "-state", "s", "-interval", "30s", "-min-interval", "5m"}); err != nil {
		t.Fatal(err)
	}
	if err := c2.Validate(); err == nil || !strings.Contains(err.Error(), "-interval") {
		t.Errorf("interval below explicit minimum: %v", err)
	}
}
