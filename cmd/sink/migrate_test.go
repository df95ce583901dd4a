package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestMigrateCommand(t *testing.T) {
	// PostgreSQL migrations are tested in internal/store on fresh databases;
	// here the command's behaviour, on SQLite.
	urls := map[string]string{"sqlite": "sqlite:" + filepath.Join(t.TempDir(), "sink.db")}
	for engine, url := range urls {
		t.Run(engine, func(t *testing.T) {
			for i, want := range []string{"schema migrated from version 0 to ", "schema already at version "} {
				var stdout, stderr bytes.Buffer
				if code := runMigrate([]string{"--store", url}, &stdout, &stderr); code != 0 {
					t.Fatalf("run %d: exit %d: %s", i, code, stderr.String())
				}
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("run %d: stdout %q, want %q", i, stdout.String(), want)
				}
			}
		})
	}
	var stderr bytes.Buffer
	if code := runMigrate([]string{"--store", "mysql://x"}, &bytes.Buffer{}, &stderr); code != 1 || !strings.Contains(stderr.String(), "unknown scheme") {
		t.Errorf("bad store: exit %d, %s", code, stderr.String())
	}
	if code := runMigrate([]string{"--nope"}, &bytes.Buffer{}, &bytes.Buffer{}); code != 2 {
		t.Errorf("bad flag: exit %d, want 2", code)
	}
}
