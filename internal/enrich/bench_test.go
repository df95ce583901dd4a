package enrich

import (
	"bufio"
	"bytes"
	gojson "github.com/goccy/go-json"
	"os"
	"testing"
	"time"

	"github.com/newsflow/newsflow/pkg/events"
)

// reutersDev is the Reuters dev set, read at benchmark time when present
// (never copied): the shared folder beside the repository.
var reutersDev = func() string {
	for _, p := range []string{"../../../shared/eval/dev/reuters/articles.jsonl", "/work/shared/eval/dev/reuters/articles.jsonl"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "../../../shared/eval/dev/reuters/articles.jsonl"
}()

// benchLines returns JSON lines to benchmark on: the Reuters dev set when
// present, else the seed article and this package's fixtures.
func benchLines(b *testing.B) [][]byte {
	b.Helper()
	var lines [][]byte
	if data, err := os.ReadFile(reutersDev); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			lines = append(lines, append([]byte(nil), sc.Bytes()...))
		}
		return lines
	}
	for _, f := range []string{"testdata/seed.jsonl", "testdata/fixture.jsonl"} {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				lines = append(lines, l)
			}
		}
	}
	return lines
}

// BenchmarkOffline measures the whole offline path per article: decode the
// RawArticle JSON, clean the HTML, tag every entity kind, encode the
// EnrichedArticle JSON. MB/s is of input article JSON.
func BenchmarkOffline(b *testing.B) {
	tg, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	lines := benchLines(b)
	var total int64
	for _, l := range lines {
		total += int64(len(l))
	}
	b.SetBytes(total / int64(len(lines)))
	b.ReportAllocs()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	i := 0
	var buf []byte
	for b.Loop() {
		var raw events.RawArticle
		if err := gojson.Unmarshal(lines[i%len(lines)], &raw); err != nil {
			b.Fatal(err)
		}
		out := tg.Enrich(raw, now)
		if buf, err = AppendJSON(buf[:0], &out); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkStages splits the offline path into its parts.
func BenchmarkStages(b *testing.B) {
	tg, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	lines := benchLines(b)
	raws := make([]events.RawArticle, len(lines))
	var total int64
	for i, l := range lines {
		total += int64(len(l))
		if err := gojson.Unmarshal(l, &raws[i]); err != nil {
			b.Fatal(err)
		}
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(total / int64(len(lines)))
		i := 0
		for b.Loop() {
			var raw events.RawArticle
			_ = gojson.Unmarshal(lines[i%len(lines)], &raw)
			i++
		}
	})
	b.Run("plaintext", func(b *testing.B) {
		b.SetBytes(total / int64(len(lines)))
		i := 0
		for b.Loop() {
			r := &raws[i%len(raws)]
			PlainText(r.Title, r.Content)
			i++
		}
	})
	b.Run("language", func(b *testing.B) {
		b.SetBytes(total / int64(len(lines)))
		i := 0
		for b.Loop() {
			r := &raws[i%len(raws)]
			DetectLanguage(r.Content)
			i++
		}
	})
	b.Run("enrich", func(b *testing.B) {
		b.SetBytes(total / int64(len(lines)))
		i := 0
		for b.Loop() {
			tg.Enrich(raws[i%len(raws)], now)
			i++
		}
	})
	b.Run("encode", func(b *testing.B) {
		outs := make([]events.EnrichedArticle, 500)
		for i := range outs {
			outs[i] = tg.Enrich(raws[i%len(raws)], now)
		}
		b.SetBytes(total / int64(len(lines)))
		i := 0
		var buf []byte
		for b.Loop() {
			buf, _ = AppendJSON(buf[:0], &outs[i%len(outs)])
			i++
		}
	})
}
