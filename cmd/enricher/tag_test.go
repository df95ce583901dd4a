package main

import (
	"bufio"
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/newsflow/newsflow/pkg/events"
)

// TestRunTag feeds real JSON lines (good, malformed, wrong version) through
// `enricher tag` and checks the output, the error report and the exit code.
func TestRunTag(t *testing.T) {
	seed, err := os.ReadFile("../../internal/enrich/testdata/seed.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	input := strings.Join([]string{
		strings.TrimSpace(string(seed)),
		`{"id": "broken"`,
		`{"schema_version": 7, "id": "v7", "title": "x"}`,
		``,
		`{"title": "No id Moscow talks", "content": "<p>Russia and Japan met in Tokyo.</p>", "source": {"feed_url": "https://f.invalid/rss"}}`,
	}, "\n")
	var stdout, stderr bytes.Buffer
	code := runTag(nil, strings.NewReader(input), &stdout, &stderr)
	if code != 1 {
		t.Errorf("exit code %d, want 1 (bad lines)", code)
	}
	for _, want := range []string{"line 2:", "line 3:", "schema_version"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr %q does not mention %q", stderr.String(), want)
		}
	}
	var outs []events.EnrichedArticle
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		a, err := events.DecodeEnriched(sc.Bytes())
		if err != nil {
			t.Fatalf("output line does not decode: %v", err)
		}
		outs = append(outs, a)
	}
	if len(outs) != 2 {
		t.Fatalf("%d output articles, want 2 (bad lines skipped, the run goes on)", len(outs))
	}
	if outs[0].ID != "19b25856e1c150ca834cffc8b59b23ad" || len(outs[0].Countries) == 0 || len(outs[0].People) == 0 {
		t.Errorf("seed article not tagged: %+v", outs[0].Countries)
	}
	if outs[1].ID == "" || outs[1].Text != "No id Moscow talks\n\nRussia and Japan met in Tokyo." {
		t.Errorf("second article: id %q text %q", outs[1].ID, outs[1].Text)
	}
}

// TestRunTagExplain checks the human-readable view.
func TestRunTagExplain(t *testing.T) {
	seed, err := os.ReadFile("../../internal/enrich/testdata/seed.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := runTag([]string{"--explain"}, bytes.NewReader(seed), &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"KP North Korea", "Vladimir Putin (Q7747)", "[North Korean]", "KCNA", "countries (score >= 0.5"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain output lacks %q:\n%s", want, out)
		}
	}
}

// TestRunTagUsage checks flag errors.
func TestRunTagUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := runTag([]string{"--no-such-flag"}, strings.NewReader(""), &stdout, &stderr); code != 2 {
		t.Errorf("exit code %d, want 2", code)
	}
	if code := runTag([]string{"--taxonomy-mode", "merge"}, strings.NewReader(""), &stdout, &stderr); code != 2 {
		t.Errorf("bad taxonomy mode: exit code %d, want 2", code)
	}
	stderr.Reset()
	if code := runTag([]string{"--gazetteers", "/nonexistent/dir"}, strings.NewReader(""), &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "gazetteers") {
		t.Errorf("missing gazetteer folder: exit %d, stderr %q; want 2 and a message naming the flag", code, stderr.String())
	}
}
