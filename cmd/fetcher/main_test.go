package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFlagValidation checks that validation sees the flags as parsed: a
// run with a good feed list fails on the flag that is really wrong, naming it.
func TestFlagValidation(t *testing.T) {
	dir := t.TempDir()
	feeds := filepath.Join(dir, "feeds.yaml")
	if err := os.WriteFile(feeds, []byte("feeds:\n  - url: https://news.example.org/rss.xml\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state.db")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no feeds", []string{"--state", state}, "-feeds"},
		{"bad brokers", []string{"--feeds", feeds, "--state", state, "--brokers", "nohostport"}, "-brokers"},
		{"bad workers", []string{"--feeds", feeds, "--state", state, "--workers", "0"}, "-workers"},
		{"bad log level", []string{"--feeds", feeds, "--log-level", "loud"}, "log-level"},
		{"unknown flag", []string{"--feeds", feeds, "--nope"}, "nope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 naming %q", code, stderr.String(), tc.want)
			}
		})
	}
}
