package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/newsflow/newsflow/internal/enrich"
	"github.com/newsflow/newsflow/internal/flagenv"
	"github.com/newsflow/newsflow/internal/pipeline"
	"github.com/newsflow/newsflow/pkg/events"
)

// maxLine is the longest input line runTag accepts.
const maxLine = 64 << 20

// runTag is `enricher tag`: RawArticle JSON Lines on stdin, EnrichedArticle
// JSON Lines (or, with --explain, a human-readable view) on stdout. A bad
// line is reported on stderr with its line number and skipped; the exit code
// is then 1. Usage errors exit 2.
//
// Input lines may omit schema_version (taken as the current one), fetched_at
// (set to the time of tagging) and id (computed with events.ArticleID), so
// that archives can be backfilled.
func runTag(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("enricher tag", flag.ContinueOnError)
	var tf pipeline.TaggerFlags
	tf.RegisterFlags(fs)
	explain := fs.Bool("explain", false, "print each tag with its score and quoted evidence instead of JSON")
	progress := fs.Bool("progress", isTerminal(stderr), "report progress on stderr (default: when stderr is a terminal)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: enricher tag [--taxonomy FILE] [--taxonomy-mode extend|replace] [--topic-threshold X] [--gazetteers DIR] [--explain] < raw.jsonl > enriched.jsonl")
		fs.PrintDefaults()
	}
	var tagger *pipeline.TaxonomyTagger
	build := func() (err error) { tagger, err = tf.Build(); return err }
	if code, ok := flagenv.ParseArgs(fs, args, stderr, build); !ok {
		return code
	}
	out := bufio.NewWriterSize(stdout, 256<<10)
	in := bufio.NewScanner(stdin)
	in.Buffer(make([]byte, 0, 1<<20), maxLine)
	var (
		enc             []byte
		line, bad, done int
		bytesIn         int64
		started         = time.Now()
		lastReport      = started
	)
	for in.Scan() {
		line++
		b := bytes.TrimSpace(in.Bytes())
		bytesIn += int64(len(in.Bytes())) + 1
		if len(b) == 0 {
			continue
		}
		raw, err := decodeRawLine(b)
		if err != nil {
			bad++
			fmt.Fprintf(stderr, "enricher tag: line %d: %v\n", line, err)
			continue
		}
		now := time.Now().UTC()
		if raw.FetchedAt.IsZero() {
			raw.FetchedAt = now
		}
		enriched := tagger.Enrich(raw, now)
		if *explain {
			writeExplain(out, enriched)
		} else {
			// AppendJSON writes the bytes of enriched.MarshalJSON without reflection.
			enc, err = enrich.AppendJSON(enc[:0], &enriched)
			if err != nil {
				bad++
				fmt.Fprintf(stderr, "enricher tag: line %d: encode: %v\n", line, err)
				continue
			}
			enc = append(enc, '\n')
			out.Write(enc)
		}
		done++
		if *progress && time.Since(lastReport) >= time.Second {
			lastReport = time.Now()
			el := time.Since(started).Seconds()
			fmt.Fprintf(stderr, "\renricher tag: %d articles, %.1f MB, %.0f articles/s, %.1f MB/s   ", done, float64(bytesIn)/1e6, float64(done)/el, float64(bytesIn)/1e6/el)
		}
	}
	if *progress {
		el := time.Since(started).Seconds()
		fmt.Fprintf(stderr, "\renricher tag: %d articles, %d bad lines, %.1f MB in %.1fs\n", done, bad, float64(bytesIn)/1e6, el)
	}
	if err := in.Err(); err != nil {
		fmt.Fprintf(stderr, "enricher tag: line %d: read: %v\n", line+1, err)
		out.Flush()
		return 1
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintln(stderr, "enricher tag: write:", err)
		return 1
	}
	if bad > 0 {
		return 1
	}
	return 0
}

// decodeRawLine decodes one input line, filling what an archive may lack.
func decodeRawLine(b []byte) (events.RawArticle, error) {
	var raw events.RawArticle
	// go-json decodes the same JSON as encoding/json, about twice as fast.
	if err := gojson.Unmarshal(b, &raw); err != nil {
		return raw, fmt.Errorf("not a RawArticle JSON object: %w", err)
	}
	switch raw.SchemaVersion {
	case 0:
		raw.SchemaVersion = events.SchemaVersion
	case events.SchemaVersion:
	default:
		return raw, fmt.Errorf("%w: got %d, want %d", events.ErrSchemaVersion, raw.SchemaVersion, events.SchemaVersion)
	}
	if raw.ID == "" {
		if raw.Source.FeedURL == "" && raw.URL == "" && raw.GUID == "" && raw.Title == "" {
			return raw, errors.New("article has no id, feed URL, link, guid or title to identify it")
		}
		raw.ID = events.ArticleID(raw.Source.FeedURL, raw.GUID, raw.URL, raw.Title, raw.PublishedAt)
	}
	if raw.Source.FeedURL == "" {
		raw.Source.FeedURL = "stdin:"
	}
	if len(raw.ID) > 256 {
		return raw, errors.New("id longer than 256 bytes")
	}
	return raw, nil
}

// writeExplain prints one article's tags with scores and quoted evidence.
func writeExplain(w io.Writer, a events.EnrichedArticle) {
	title := a.Title
	if title == "" {
		title = "(no title)"
	}
	fmt.Fprintf(w, "=== %s  %s\nlanguage: %s\n", a.ID, oneLine(title, 100), a.Language)
	fmt.Fprintf(w, "countries (score >= 0.5: the article is about it):\n")
	for _, c := range a.Countries {
		note := ""
		if c.Note != "" {
			note = "  [" + c.Note + "]"
		}
		fmt.Fprintf(w, "  %s %-28s %.2f%s\n", c.Code, c.Name, c.Score, note)
		writeMentions(w, a.Text, c.Mentions)
	}
	for _, group := range []struct {
		label string
		es    []events.Entity
	}{{"people", a.People}, {"organizations", a.Organizations}} {
		fmt.Fprintf(w, "%s:\n", group.label)
		for _, e := range group.es {
			id := ""
			if e.WikidataID != "" {
				id = " (" + e.WikidataID + ")"
			}
			fmt.Fprintf(w, "  %-32s %.2f\n", e.Name+id, e.Score)
			writeMentions(w, a.Text, e.Mentions)
		}
	}
	fmt.Fprintf(w, "topics:\n")
	for _, t := range a.Topics {
		fmt.Fprintf(w, "  %-32s %.2f\n", t.ID+" ("+t.Label+")", t.Score)
		ms := make([]events.Mention, len(t.Evidence))
		for i, e := range t.Evidence {
			ms[i] = events.Mention{Start: e.Start, End: e.End, Surface: e.Surface, Kind: "evidence"}
		}
		writeMentions(w, a.Text, ms)
	}
	fmt.Fprintln(w)
}

// writeMentions quotes up to four mentions with some context each.
func writeMentions(w io.Writer, text string, ms []events.Mention) {
	for i, m := range ms {
		if i == 4 {
			fmt.Fprintf(w, "      ... and %d more\n", len(ms)-4)
			break
		}
		lo, hi := max(0, m.Start-40), min(len(text), m.End+40)
		for lo > 0 && !isRuneStart(text[lo]) {
			lo--
		}
		for hi < len(text) && !isRuneStart(text[hi]) {
			hi++
		}
		ctx := oneLine(text[lo:m.Start], 60) + "[" + m.Surface + "]" + oneLine(text[m.End:hi], 60)
		fmt.Fprintf(w, "      %-8s @%-6d %s\n", m.Kind, m.Start, ctx)
	}
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		for n > 0 && !isRuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	return s
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
