package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/newsflow/newsflow/pkg/events"
)

// compileSchema compiles one of pkg/events' JSON Schemas, with format
// assertions (date-time) on.
func compileSchema(t *testing.T, name string) *jsonschema.Schema {
	t.Helper()
	b, err := fs.ReadFile(events.Schemas, name)
	if err != nil {
		t.Fatalf("read schema %s: %v", name, err)
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("decode schema %s: %v", name, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(name, doc); err != nil {
		t.Fatalf("add schema %s: %v", name, err)
	}
	s, err := c.Compile(name)
	if err != nil {
		t.Fatalf("compile schema %s: %v", name, err)
	}
	return s
}

// validateJSON validates one JSON document against s.
func validateJSON(s *jsonschema.Schema, doc string) error {
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return s.Validate(v)
}

// checkEnrichedTopic reads the enriched topic with kcat and checks that it
// holds every served article once, each payload valid against
// enriched_article.v1.json and decodable with pkg/events, keyed by the
// article id, with the CloudEvents binary-mode headers.
func checkEnrichedTopic(t *testing.T, ctx context.Context, kcat string, st *stages, want map[string]servedArticle) {
	t.Helper()
	schema := compileSchema(t, events.SchemaEnrichedFile)
	recs, err := kcatConsume(ctx, kcat, st.broker, st.enr)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range recs {
		where := fmt.Sprintf("%s[%d]@%d", r.Topic, r.Partition, r.Offset)
		if err := validateJSON(schema, r.payload()); err != nil {
			t.Errorf("%s: payload does not validate against %s: %v", where, events.SchemaEnrichedFile, err)
			continue
		}
		a, err := events.DecodeEnriched([]byte(r.payload()))
		if err != nil {
			t.Errorf("%s: events.DecodeEnriched: %v", where, err)
			continue
		}
		seen[a.ID]++
		if r.key() != a.ID {
			t.Errorf("%s: key %q, want the article id %q", where, r.key(), a.ID)
		}
		if _, ok := want[a.ID]; !ok {
			t.Errorf("%s: article %s (%q) was not served", where, a.ID, a.Title)
		}
		checkCloudEvents(t, where, r, events.TypeEnriched, a.ID)
	}
	for id, a := range want {
		if seen[id] == 0 {
			t.Errorf("enriched topic %s lacks article %q", st.enr, a.Title)
		}
	}
	for id, n := range seen {
		if n > 1 {
			// At-least-once delivery allows it, but a clean run should not
			// produce it.
			t.Logf("enriched topic holds article %s %d times", id, n)
		}
	}
	t.Logf("kcat read %d enriched records, all valid against %s with CloudEvents headers", len(recs), events.SchemaEnrichedFile)
}

// checkCloudEvents asserts the CloudEvents Kafka binary-mode headers.
func checkCloudEvents(t *testing.T, where string, r kcatRecord, typ, subject string) {
	t.Helper()
	want := map[string]func(string) error{
		events.HeaderSpecVersion: equals("1.0"),
		events.HeaderType:        equals(typ),
		events.HeaderID:          nonEmpty,
		events.HeaderSource:      nonEmpty,
		events.HeaderSubject:     equals(subject),
		events.HeaderContentType: equals("application/json"),
		events.HeaderTime: func(v string) error {
			_, err := time.Parse(time.RFC3339Nano, v)
			return err
		},
	}
	for name, check := range want {
		v, ok := r.header(name)
		if !ok {
			t.Errorf("%s: header %s missing (headers %q)", where, name, r.Headers)
			continue
		}
		if err := check(v); err != nil {
			t.Errorf("%s: header %s=%q: %v", where, name, v, err)
		}
	}
}

func equals(want string) func(string) error {
	return func(v string) error {
		if v != want {
			return fmt.Errorf("want %q", want)
		}
		return nil
	}
}

func nonEmpty(v string) error {
	if v == "" {
		return fmt.Errorf("empty")
	}
	return nil
}

// produceRaw writes a RawArticle, as another team's producer would, with
// kcat: JSON written by hand (not with pkg/events) and CloudEvents headers.
// It returns the article id.
func produceRaw(t *testing.T, ctx context.Context, kcat string, st *stages, slug, title, body string) string {
	t.Helper()
	feedURL := "https://partner.example.com/feeds/" + slug + ".xml"
	guid := "partner-" + slug + "-" + runID(t)
	id := events.ArticleID(feedURL, guid, "", title, time.Time{})
	now := time.Now().UTC().Format(time.RFC3339Nano)
	doc := map[string]any{
		"schema_version": 1,
		"id":             id,
		"source":         map[string]any{"feed_url": feedURL, "feed_title": "Partner wire"},
		"guid":           guid,
		"url":            "https://partner.example.com/" + slug,
		"title":          title,
		"content":        "<p>" + body + "</p>",
		"authors":        []string{"Partner desk"},
		"categories":     []string{"World"},
		"language":       "en",
		"published_at":   now,
		"fetched_at":     now,
	}
	value, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := validateJSON(compileSchema(t, events.SchemaRawFile), string(value)); err != nil {
		t.Fatalf("the hand-made raw article does not validate against %s: %v", events.SchemaRawFile, err)
	}
	err = kcatProduce(ctx, kcat, st.broker, st.raw, id, value,
		events.HeaderSpecVersion+"=1.0", events.HeaderType+"="+events.TypeRaw, events.HeaderID+"="+id+"-1",
		events.HeaderSource+"="+feedURL, events.HeaderSubject+"="+id, events.HeaderTime+"="+now,
		events.HeaderContentType+"=application/json")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// produceRawWithKcat produces a raw article with kcat and asserts that the
// enricher enriches it (kcat reads it from the enriched topic, tagged) and
// the sink stores it. It returns the article id.
func produceRawWithKcat(t *testing.T, ctx context.Context, kcat string, st *stages, pool *pgxpool.Pool) string {
	t.Helper()
	id := produceRaw(t, ctx, kcat, st, "baltic-exercise",
		"Estonia and Latvia host NATO air defence exercise near Russian border",
		"TALLINN — Estonia and Latvia began a two-week NATO air defence exercise on Monday, with German and Dutch Patriot batteries deployed near the Russian border.")
	var enriched events.EnrichedArticle
	eventually(t, settleTimeout, "kcat reads the enriched hand-made article", func() error {
		recs, err := kcatConsume(ctx, kcat, st.broker, st.enr)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if r.key() == id {
				a, err := events.DecodeEnriched([]byte(r.payload()))
				if err != nil {
					t.Fatalf("enriched hand-made article: %v", err)
				}
				checkCloudEvents(t, "enriched hand-made article", r, events.TypeEnriched, id)
				enriched = a
				return nil
			}
		}
		return fmt.Errorf("%s not in %s yet (%d records)", id, st.enr, len(recs))
	})
	codes := map[string]bool{}
	for _, c := range enriched.Countries {
		codes[c.Code] = true
	}
	if !codes["EE"] || !codes["LV"] {
		t.Errorf("hand-made article enriched with countries %v, want EE and LV among them", codes)
	}
	eventually(t, settleTimeout, "the hand-made article in PostgreSQL", func() error {
		got, err := countryScores(ctx, pool, id)
		if err != nil {
			return err
		}
		if len(got) == 0 {
			return fmt.Errorf("no country rows for %s yet", id)
		}
		return nil
	})
	t.Logf("a raw article produced with kcat was enriched (countries %v) and stored", sortedKeys(codes))
	return id
}

// checkDeadLetters produces broken messages to the raw topic with kcat and
// asserts that each lands in the dead-letter topic with its reason header.
func checkDeadLetters(t *testing.T, ctx context.Context, kcat string, st *stages) {
	t.Helper()
	suffix := runID(t)
	bad := []struct {
		key, value, reason string
	}{
		{"malformed-" + suffix, `{"schema_version":1,"id":"cut-off`, "malformed"},
		{"not-json-" + suffix, `<rss><channel><title>not an event</title></channel></rss>`, "malformed"},
		{"future-version-" + suffix, `{"schema_version":99,"id":"x","source":{"feed_url":"https://example.com/f"},"title":"t","fetched_at":"2024-07-01T00:00:00Z"}`, "schema_version"},
	}
	for _, b := range bad {
		if err := kcatProduce(ctx, kcat, st.broker, st.raw, b.key, []byte(b.value), events.HeaderType+"="+events.TypeRaw); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, settleTimeout, "every broken message in the dead-letter topic", func() error {
		recs, err := kcatConsume(ctx, kcat, st.broker, st.dlq)
		if err != nil {
			return err
		}
		byKey := map[string]kcatRecord{}
		for _, r := range recs {
			byKey[r.key()] = r
		}
		for _, b := range bad {
			r, ok := byKey[b.key]
			if !ok {
				return fmt.Errorf("%s not in %s yet (%d records)", b.key, st.dlq, len(recs))
			}
			if reason, _ := r.header("newsflow_dlq_reason"); reason != b.reason {
				t.Errorf("dead letter %s: newsflow_dlq_reason=%q, want %q (headers %q)", b.key, reason, b.reason, r.Headers)
			}
			if r.payload() != b.value {
				t.Errorf("dead letter %s: payload %q, want the original %q", b.key, r.payload(), b.value)
			}
			if topic, _ := r.header("newsflow_dlq_source_topic"); topic != st.raw {
				t.Errorf("dead letter %s: newsflow_dlq_source_topic=%q, want %q", b.key, topic, st.raw)
			}
		}
		return nil
	})
	reasons := map[string]float64{}
	for _, b := range bad {
		reasons[b.reason]++
	}
	eventually(t, 10*time.Second, "the enricher counts its dead letters by reason", func() error {
		for reason, want := range reasons {
			got, err := st.enricher().metric(ctx, "newsflow_enricher_dead_lettered_total", "reason", reason)
			if err != nil {
				return err
			}
			if got != want {
				return fmt.Errorf("newsflow_enricher_dead_lettered_total{reason=%q} = %v, want %v", reason, got, want)
			}
		}
		return nil
	})
	t.Logf("%d broken messages produced with kcat are in %s with their newsflow_dlq_reason", len(bad), st.dlq)
	// Nothing broken reaches the enriched topic.
	recs, err := kcatConsume(ctx, kcat, st.broker, st.enr)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		for _, b := range bad {
			if r.key() == b.key {
				t.Errorf("broken message %s reached the enriched topic", b.key)
			}
		}
	}
}
