package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/newsflow/newsflow/internal/feed"
)

func TestExportOPML(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "feeds.yaml")
	yaml := "title: Mine\nfeeds:\n  - url: https://feeds.bbci.co.uk/news/world/rss.xml\n    title: BBC World\n    tags: [world, uk]\n  - url: https://breakingdefense.com/feed/\n"
	if err := os.WriteFile(list, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := runExportOPML([]string{"-feeds", list}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	got, err := feed.ParseList(".opml", stdout.Bytes())
	if err != nil {
		t.Fatalf("output is not OPML: %v\n%s", err, stdout.String())
	}
	if got.Title != "Mine" || len(got.Feeds) != 2 || got.Feeds[0].Title != "BBC World" || strings.Join(got.Feeds[0].Tags, ",") != "world,uk" {
		t.Errorf("exported %+v", got)
	}

	out := filepath.Join(dir, "out.opml")
	if code := runExportOPML([]string{"-feeds", list, "-o", out, "-title", "Other"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	back, err := feed.LoadList(out)
	if err != nil || back.Title != "Other" || len(back.Feeds) != 2 {
		t.Errorf("-o file: %+v, %v", back, err)
	}
}

func TestExportOPMLErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("feeds:\n  - url: gopher://x\n"), 0o644)
	tests := []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "-feeds"},
		{[]string{"-feeds", filepath.Join(dir, "missing.yaml")}, 1, "no such file"},
		{[]string{"-feeds", bad}, 1, "scheme"},
		{[]string{"-feeds", bad, "extra"}, 2, "unexpected"},
		{[]string{"-nope"}, 2, "not defined"},
	}
	for _, tc := range tests {
		var stdout, stderr bytes.Buffer
		code := runExportOPML(tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stderr.String(), tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, stderr.String(), tc.code, tc.msg)
		}
	}
}
