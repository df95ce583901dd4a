package topics

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/newsflow/newsflow/pkg/events"
)

var (
	report = flag.Bool("topics.report", false, "print per-topic figures and every error of the evaluation")
	sweep  = flag.Bool("topics.sweep", false, "print micro P/R/F1 of the dev set for a range of thresholds")
	noHold = flag.Bool("topics.noholdout", false, "score only the dev set (while tuning: the holdout is scored at the end)")
	predTo = flag.String("topics.pred", "", "write the dev and holdout predictions as EnrichedArticle JSON Lines into this folder (for score.py)")
)

// item is one labelled article of testdata/topics.
type item struct {
	raw       events.RawArticle
	text      string
	bodyStart int
	gold      []string
}

// loadSet reads articles.jsonl and gold.jsonl of a labelled set.
func loadSet(t testing.TB, dir string) []item {
	t.Helper()
	gold := map[string][]string{}
	readLines(t, filepath.Join(dir, "gold.jsonl"), func(b []byte) {
		var g struct {
			ID     string   `json:"id"`
			Topics []string `json:"topics"`
		}
		if err := json.Unmarshal(b, &g); err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		gold[g.ID] = g.Topics
	})
	var items []item
	readLines(t, filepath.Join(dir, "articles.jsonl"), func(b []byte) {
		raw, err := events.DecodeRaw(b)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		g, ok := gold[raw.ID]
		if !ok {
			t.Fatalf("%s: no gold for %s", dir, raw.ID)
		}
		body := raw.Content
		if body == "" {
			body = raw.Summary
		}
		items = append(items, item{raw: raw, text: raw.Title + "\n\n" + body, bodyStart: len(raw.Title) + 2, gold: g})
	})
	if len(items) != len(gold) {
		t.Fatalf("%s: %d articles, %d gold lines", dir, len(items), len(gold))
	}
	return items
}

func readLines(t testing.TB, path string, fn func([]byte)) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		if len(strings.TrimSpace(sc.Text())) > 0 {
			fn(sc.Bytes())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// counts are true positives, false positives and false negatives.
type counts struct{ tp, fp, fn int }

func (c counts) prf() (p, r, f float64) {
	if c.tp+c.fp > 0 {
		p = float64(c.tp) / float64(c.tp+c.fp)
	}
	if c.tp+c.fn > 0 {
		r = float64(c.tp) / float64(c.tp+c.fn)
	}
	if p+r > 0 {
		f = 2 * p * r / (p + r)
	}
	return p, r, f
}

// evaluation scores a matcher on a labelled set the way score.py does.
type evaluation struct {
	micro    counts
	perTopic map[string]*counts
	errors   []string
}

func evaluate(m *Matcher, items []item) evaluation {
	ev := evaluation{perTopic: map[string]*counts{}}
	get := func(id string) *counts {
		if ev.perTopic[id] == nil {
			ev.perTopic[id] = &counts{}
		}
		return ev.perTopic[id]
	}
	for _, it := range items {
		var pred []string
		byID := map[string]events.Topic{}
		for _, tp := range m.Match(it.text, it.bodyStart) {
			pred = append(pred, tp.ID)
			byID[tp.ID] = tp
		}
		for _, id := range pred {
			if slices.Contains(it.gold, id) {
				ev.micro.tp++
				get(id).tp++
				continue
			}
			ev.micro.fp++
			get(id).fp++
			var ev2 []string
			for _, e := range byID[id].Evidence {
				ev2 = append(ev2, e.Surface)
			}
			ev.errors = append(ev.errors, fmt.Sprintf("FP %s %s %.2f %q", it.raw.ID, id, byID[id].Score, ev2))
		}
		for _, id := range it.gold {
			if !slices.Contains(pred, id) {
				ev.micro.fn++
				get(id).fn++
				score := 0.0
				for _, tp := range m.Score(it.text, it.bodyStart) {
					if tp.ID == id {
						score = tp.Score
					}
				}
				ev.errors = append(ev.errors, fmt.Sprintf("FN %s %s %.2f %q", it.raw.ID, id, score, it.raw.Title))
			}
		}
	}
	return ev
}

func (ev evaluation) print(t *testing.T, name string) {
	p, r, f := ev.micro.prf()
	t.Logf("%s: micro P %.3f R %.3f F1 %.3f (tp %d fp %d fn %d)", name, p, r, f, ev.micro.tp, ev.micro.fp, ev.micro.fn)
	if !*report {
		return
	}
	ids := make([]string, 0, len(ev.perTopic))
	for id := range ev.perTopic {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		c := ev.perTopic[id]
		p, r, f := c.prf()
		t.Logf("| %-20s | %3d | %3d | %3d | %.2f | %.2f | %.2f |", id, c.tp, c.fp, c.fn, p, r, f)
	}
	for _, e := range ev.errors {
		t.Log(e)
	}
}

// Quality floors: the tests fail when a change makes the tagger worse than
// this on the labelled sets (docs/quality.md has the figures).
const (
	devF1Floor     = 0.88
	holdoutF1Floor = 0.78
)

// TestDevSetQuality scores the default taxonomy on the development set and
// the held-out set and fails below the floors.
func TestDevSetQuality(t *testing.T) {
	m, err := Default().Matcher(-1)
	if err != nil {
		t.Fatal(err)
	}
	for _, set := range []struct {
		dir   string
		floor float64
		min   int
	}{
		{"../../../testdata/topics/dev", devF1Floor, 150},
		{"../../../testdata/topics/holdout", holdoutF1Floor, 50},
		{"../../../testdata/topics/holdout2", holdoutF1Floor, 50},
	} {
		if *noHold && strings.Contains(set.dir, "holdout") {
			continue
		}
		items := loadSet(t, set.dir)
		if len(items) < set.min {
			t.Errorf("%s: %d items, want at least %d", set.dir, len(items), set.min)
		}
		ev := evaluate(m, items)
		ev.print(t, filepath.Base(set.dir))
		if _, _, f := ev.micro.prf(); f < set.floor {
			t.Errorf("%s: micro F1 %.3f below floor %.2f", set.dir, f, set.floor)
		}
		if *predTo != "" {
			writePred(t, m, items, filepath.Join(*predTo, filepath.Base(set.dir)+".pred.jsonl"))
		}
	}
}

// TestThresholdSweep prints dev-set figures per threshold (with
// -topics.sweep); it is how the default threshold was chosen.
func TestThresholdSweep(t *testing.T) {
	if !*sweep {
		t.Skip("run with -topics.sweep")
	}
	items := loadSet(t, "../../../testdata/topics/dev")
	for th := 0.30; th <= 0.801; th += 0.05 {
		m, err := Default().Matcher(th)
		if err != nil {
			t.Fatal(err)
		}
		ev := evaluate(m, items)
		p, r, f := ev.micro.prf()
		t.Logf("| %.2f | %.3f | %.3f | %.3f |", th, p, r, f)
	}
}

// writePred writes EnrichedArticles with topics, as `enricher tag` would, so
// that ../shared/eval/score.py can score them.
func writePred(t *testing.T, m *Matcher, items []item, path string) {
	var b strings.Builder
	for _, it := range items {
		e := events.NewEnriched(it.raw)
		e.Text = it.text
		e.Topics = m.Match(it.text, it.bodyStart)
		e.EnricherVersion = "topics-eval"
		line, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
