package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/newsflow/newsflow/internal/store"
	"github.com/newsflow/newsflow/pkg/events"
)

// storedArticle returns a valid enriched article published ago before now.
func storedArticle(id, title, code, topic, person string, ago time.Duration) events.EnrichedArticle {
	now := time.Now().UTC()
	a := events.NewEnriched(events.RawArticle{
		SchemaVersion: events.SchemaVersion, ID: id, Title: title, URL: "https://example.org/" + id,
		Source:      events.Source{FeedURL: "https://example.org/feed.xml", FeedTitle: "Example"},
		PublishedAt: now.Add(-ago), FetchedAt: now.Add(-ago).Add(time.Minute), Language: "en",
	})
	a.Text = title + "\n\n" + person + " spoke."
	a.Countries = []events.Country{{Code: code, Name: code, Score: 0.9, Mentions: []events.Mention{}}}
	a.Topics = []events.Topic{{ID: topic, Label: topic, Score: 0.8, Evidence: []events.Evidence{}}}
	off := len(title) + 2
	a.People = []events.Entity{{Name: person, Score: 0.7, Mentions: []events.Mention{{Start: off, End: off + len(person), Surface: person}}}}
	a.EnricherVersion = "test"
	a.EnrichedAt = a.FetchedAt.Add(time.Second)
	return a
}

func TestArticlesCommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "newsflow.db")
	st, err := store.Open(context.Background(), "sqlite:"+db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	batch := []events.EnrichedArticle{
		storedArticle("a1", "Pyongyang tests a missile", "KP", "arms_trade", "Kim Jong Un", 2*time.Hour),
		storedArticle("a2", "New sanctions on Moscow", "RU", "sanctions", "Vladimir Putin", 30*time.Hour),
		storedArticle("a3", "Arms deal signed", "KP", "arms_trade", "Vladimir Putin", 10*24*time.Hour),
	}
	if _, err := st.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	st.Close()

	tests := []struct {
		args     []string
		code     int
		want     []string // in stdout (or stderr when code != 0)
		wantNot  []string
		jsonRows int // with --json: lines expected
	}{
		{args: nil, code: 0, want: []string{"TIME (UTC)", "Pyongyang tests a missile", "New sanctions on Moscow", "Arms deal signed", "3 articles"}},
		{args: []string{"--country", "kp"}, want: []string{"Pyongyang", "Arms deal", "2 articles"}, wantNot: []string{"Moscow"}},
		{args: []string{"--person", "Vladimir Putin", "--since", "7d"}, want: []string{"Moscow", "1 articles"}, wantNot: []string{"Arms deal"}},
		{args: []string{"--topic", "arms_trade", "--since", "24h"}, want: []string{"Pyongyang"}, wantNot: []string{"Arms deal", "Moscow"}},
		{args: []string{"--q", "missiles"}, want: []string{"Pyongyang", "1 articles"}},
		{args: []string{"--country", "XX"}, want: []string{"No articles match."}},
		{args: []string{"--limit", "1", "--json"}, jsonRows: 1, want: []string{`"id":"a1"`, `"countries":[{"code":"KP"`}},
		{args: []string{"--json", "--topic", "arms_trade"}, jsonRows: 2},
		{args: []string{"--since", "yesterday"}, code: 2, want: []string{"-since"}},
		{args: []string{"--limit", "0"}, code: 2, want: []string{"-limit"}},
		{args: []string{"--country", "KOR"}, code: 2, want: []string{"-country"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, "_"), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runArticles(append([]string{"--store", "sqlite:" + db}, tt.args...), &stdout, &stderr)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, stderr.String())
			}
			out := stdout.String()
			if tt.code != 0 {
				out = stderr.String()
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
			if tt.jsonRows > 0 {
				lines := strings.Split(strings.TrimSpace(out), "\n")
				if len(lines) != tt.jsonRows {
					t.Fatalf("%d JSON lines, want %d:\n%s", len(lines), tt.jsonRows, out)
				}
				for _, l := range lines {
					var v articleJSON
					if err := json.Unmarshal([]byte(l), &v); err != nil || v.ID == "" || len(v.Topics) == 0 {
						t.Errorf("line %q: %v", l, err)
					}
				}
			}
		})
	}

	var stderr bytes.Buffer
	if code := runArticles([]string{"--store", "sqlite:" + filepath.Join(t.TempDir(), "none.db")}, &bytes.Buffer{}, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "no database") {
		t.Errorf("missing database: exit %d, %s", code, stderr.String())
	}
}
