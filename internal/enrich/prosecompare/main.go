// Command prosecompare runs the same articles through newsflow's tagger and
// through jdkato/prose v2 NER (model loaded once), and reports the speed
// ratio and writes both taggers' predictions for ../shared/eval/score.py.
// It is a separate module so that prose and its dependencies stay out of
// newsflow's own go.mod.
//
//	go run . -in ../../../../shared/eval/dev/conll/articles.jsonl -out /tmp/cmp-conll
//	python3 ../../../../shared/eval/score.py GOLD /tmp/cmp-conll/prose.jsonl
//
// prose gives entity strings without offsets; person mentions get the
// spans of successive occurrences of those strings in the text, and GPE
// entities are mapped to countries by newsflow's gazetteer (every GPE
// country scored 1: prose has no salience).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	prose "github.com/jdkato/prose/v2"
	"github.com/newsflow/newsflow/internal/enrich"
	"github.com/newsflow/newsflow/pkg/events"
)

type mention struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

type person struct {
	Name     string    `json:"name"`
	Mentions []mention `json:"mentions"`
}

type country struct {
	Code  string  `json:"code"`
	Score float64 `json:"score"`
}

type pred struct {
	ID        string    `json:"id"`
	Text      string    `json:"text"`
	Countries []country `json:"countries"`
	People    []person  `json:"people"`
}

func cpu() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	in := flag.String("in", "", "RawArticle JSON lines")
	out := flag.String("out", "", "output folder for prose.jsonl and newsflow.jsonl")
	limit := flag.Int("limit", 0, "articles to read (0: all)")
	flag.Parse()
	if err := run(*in, *out, *limit); err != nil {
		fmt.Fprintln(os.Stderr, "prosecompare:", err)
		os.Exit(1)
	}
}

func run(in, out string, limit int) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	var raws []events.RawArticle
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	size := 0
	for sc.Scan() && (limit == 0 || len(raws) < limit) {
		var r events.RawArticle
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return err
		}
		r.SchemaVersion, r.FetchedAt = events.SchemaVersion, time.Now()
		raws = append(raws, r)
		size += len(r.Title) + len(r.Content)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	tg, err := enrich.New(enrich.Options{})
	if err != nil {
		return err
	}
	texts := make([]string, len(raws))
	for i, r := range raws {
		body := r.Content
		if body == "" {
			body = r.Summary
		}
		texts[i], _ = enrich.PlainText(r.Title, body)
	}

	// newsflow: the whole tagging (text cleaning included).
	nf, err := os.Create(filepath.Join(out, "newsflow.jsonl"))
	if err != nil {
		return err
	}
	defer nf.Close()
	t0 := cpu()
	encs := make([][]byte, len(raws))
	for i, r := range raws {
		a := tg.Enrich(r, time.Now())
		encs[i], _ = enrich.AppendJSON(nil, &a)
	}
	nfTime := cpu() - t0
	for _, e := range encs {
		nf.Write(append(e, '\n'))
	}

	// prose: model loaded once, then NER on every text.
	base, err := prose.NewDocument("", prose.WithSegmentation(false))
	if err != nil {
		return err
	}
	model := base.Model
	pf, err := os.Create(filepath.Join(out, "prose.jsonl"))
	if err != nil {
		return err
	}
	defer pf.Close()
	preds := make([]pred, len(raws))
	t0 = cpu()
	for i, text := range texts {
		doc, err := prose.NewDocument(text, prose.UsingModel(model), prose.WithSegmentation(false))
		if err != nil {
			return err
		}
		p := pred{ID: raws[i].ID, Text: text, Countries: []country{}, People: []person{}}
		from := 0
		for _, e := range doc.Entities() {
			switch e.Label {
			case "PERSON":
				k := strings.Index(text[from:], e.Text)
				if k < 0 {
					continue
				}
				st := from + k
				from = st + len(e.Text)
				p.People = append(p.People, person{Name: e.Text, Mentions: []mention{{st, st + len(e.Text)}}})
			case "GPE":
				p.Countries = append(p.Countries, country{Code: e.Text}) // mapped below, outside the timing
			}
		}
		preds[i] = p
	}
	proseTime := cpu() - t0
	enc := json.NewEncoder(pf)
	for _, p := range preds {
		var cs []country
		seen := map[string]bool{}
		for _, c := range p.Countries {
			a := tg.Enrich(events.RawArticle{SchemaVersion: 1, ID: "x", Source: events.Source{FeedURL: "x"}, Title: c.Code, Content: c.Code, FetchedAt: time.Now()}, time.Now())
			for _, ac := range a.Countries {
				if !seen[ac.Code] {
					seen[ac.Code] = true
					cs = append(cs, country{Code: ac.Code, Score: 1})
				}
			}
		}
		p.Countries = cs
		if err := enc.Encode(p); err != nil {
			return err
		}
	}
	mb := float64(size) / 1e6
	fmt.Printf("articles %d, text %.1f MB\n", len(raws), mb)
	fmt.Printf("newsflow: %.2fs CPU, %.1f MB/s, %.0f articles/s\n", nfTime.Seconds(), mb/nfTime.Seconds(), float64(len(raws))/nfTime.Seconds())
	fmt.Printf("prose:    %.2fs CPU, %.2f MB/s, %.0f articles/s\n", proseTime.Seconds(), mb/proseTime.Seconds(), float64(len(raws))/proseTime.Seconds())
	fmt.Printf("speed ratio newsflow/prose: %.0fx\n", proseTime.Seconds()/nfTime.Seconds())
	return nil
}
