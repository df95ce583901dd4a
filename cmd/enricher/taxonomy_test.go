package main

import (
	"bytes"
	"github.com/newsflow/newsflow/internal/pipeline"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/newsflow/newsflow/internal/enrich/topics"
)

const cableTopic = `topics:
  - id: undersea_cables
    label: Undersea cables
    cues: [undersea cable, subsea cable]
`

func writeTaxonomy(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "taxonomy.yaml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunTaxonomy(t *testing.T) {
	good := writeTaxonomy(t, cableTopic)
	bad := writeTaxonomy(t, "topics:\n  - id: x\n    label: X\n    cues:\n      - {phrase: a, weight: 9}\n")
	for _, c := range []struct {
		name       string
		args       []string
		code       int
		stdout     []string // substrings
		stderr     string
		loadsBack  bool // stdout is a taxonomy that loads
		wantTopics int
	}{
		{name: "print default", args: []string{"--print"}, code: 0, stdout: []string{"id: arms_trade", "id: climate", "threshold: 0.5"}, loadsBack: true, wantTopics: 30},
		{name: "print extended", args: []string{"--print", "--taxonomy", good}, code: 0, stdout: []string{"id: arms_trade", "id: undersea_cables"}, loadsBack: true, wantTopics: 31},
		{name: "print replaced", args: []string{"--print", "--taxonomy", good, "--taxonomy-mode", "replace"}, code: 0, stdout: []string{"id: undersea_cables"}, loadsBack: true, wantTopics: 1},
		{name: "check good", args: []string{"--check", good}, code: 0, stdout: []string{good + ": ok (extend mode): 31 topics"}},
		{name: "check good replace", args: []string{"--check", good, "--taxonomy-mode", "replace"}, code: 0, stdout: []string{": ok (replace mode): 1 topics"}},
		{name: "check bad", args: []string{"--check", bad}, code: 1, stderr: bad + ":5: topic \"x\": cue: weight must be in (0,5], got 9"},
		{name: "check missing", args: []string{"--check", filepath.Join(t.TempDir(), "nope.yaml")}, code: 1, stderr: "no such file"},
		{name: "print bad", args: []string{"--print", "--taxonomy", bad}, code: 1, stderr: bad + ":5:"},
		{name: "nothing to do", args: nil, code: 2, stderr: "give exactly one of --print or --check FILE"},
		{name: "both", args: []string{"--print", "--check", good}, code: 2, stderr: "give exactly one"},
		{name: "bad mode", args: []string{"--print", "--taxonomy-mode", "merge"}, code: 2, stderr: `invalid flag -taxonomy-mode "merge"`},
		{name: "stray argument", args: []string{"--print", "extra"}, code: 2, stderr: `unexpected argument "extra"`},
		{name: "check with taxonomy", args: []string{"--check", good, "--taxonomy", good}, code: 2, stderr: "exclusive"},
		{name: "help", args: []string{"-h"}, code: 0, stderr: "usage: enricher taxonomy"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runTaxonomy(c.args, &stdout, &stderr)
			if code != c.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, c.code, stderr.String())
			}
			for _, s := range c.stdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%.500s", s, stdout.String())
				}
			}
			if c.stderr != "" && !strings.Contains(stderr.String(), c.stderr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), c.stderr)
			}
			if c.loadsBack {
				tax, err := topics.Parse("printed.yaml", stdout.Bytes(), nil, true)
				if err != nil {
					t.Fatalf("printed taxonomy does not load: %v", err)
				}
				if len(tax.Topics) != c.wantTopics {
					t.Errorf("printed taxonomy has %d topics, want %d", len(tax.Topics), c.wantTopics)
				}
			}
		})
	}
}

func TestNewTopicMatcher(t *testing.T) {
	good := writeTaxonomy(t, cableTopic)
	title := "Undersea cable damaged in the Baltic"
	text := title + "\n\nA subsea cable linking Finland and Estonia was damaged, operators said."
	for _, c := range []struct {
		name, path, mode string
		threshold        float64
		wantErr          string
		want             []string
	}{
		{name: "default", threshold: -1, want: []string{}},
		{name: "extend", path: good, mode: "extend", threshold: -1, want: []string{"undersea_cables"}},
		{name: "replace", path: good, mode: "replace", threshold: -1, want: []string{"undersea_cables"}},
		{name: "bad mode", path: good, mode: "append", threshold: -1, wantErr: "taxonomy-mode"},
		{name: "bad threshold", threshold: 2, wantErr: "topic-threshold"},
		{name: "missing file", path: filepath.Join(t.TempDir(), "nope.yaml"), mode: "extend", threshold: -1, wantErr: "taxonomy"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, _, err := pipeline.TaggerFlags{Taxonomy: c.path, TaxonomyMode: c.mode, TopicThreshold: c.threshold}.TopicMatcher()
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one naming %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, tp := range m.Match(text, len(title)+2) {
				got = append(got, tp.ID)
			}
			for _, id := range c.want {
				if !strings.Contains(strings.Join(got, " "), id) {
					t.Errorf("got %v, want %s", got, id)
				}
			}
		})
	}
}
