package faults

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/newsflow/newsflow/internal/bus"
)

// TestCheckStoreFindsLossAndDuplicates proves that the comparison the fault
// tests end with can fail: on a database with a lost article, an article
// stored under two ids, a duplicated tag row and a row nobody served, it
// must report each of them.
func TestCheckStoreFindsLossAndDuplicates(t *testing.T) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "check.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	stmts := []string{
		`CREATE TABLE articles (id TEXT, url TEXT)`, // no primary key: duplicates can be made
		`CREATE TABLE article_countries (article_id TEXT, code TEXT)`,
		`CREATE TABLE article_people (article_id TEXT, name TEXT)`,
		`CREATE TABLE article_organizations (article_id TEXT, name TEXT)`,
		`CREATE TABLE article_topics (article_id TEXT, topic TEXT)`,
		`INSERT INTO articles VALUES ('a', 'http://farm/a'), ('b', 'http://farm/b'), ('b', 'http://farm/b'),
			('b2', 'http://farm/b'), ('stray', 'http://elsewhere/x')`,
		`INSERT INTO article_countries VALUES ('a', 'UA'), ('a', 'UA'), ('a', 'PL')`,
		`INSERT INTO article_topics VALUES ('b', 'sanctions')`,
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	served := map[string]farmItem{
		"a": {ID: "a", Link: "http://farm/a"},
		"b": {ID: "b", Link: "http://farm/b"},
		"c": {ID: "c", Link: "http://farm/c"}, // lost
		"d": {ID: "d", Link: "http://farm/b"}, // lost, but its URL is stored under another id
	}
	c, err := checkStore(ctx, db, served)
	if err != nil {
		t.Fatal(err)
	}
	type counts struct{ Stored, Lost, LostByURL, DupIDs, DupURLs, DupTags, Unexpected, Duplicates int }
	got := counts{c.Stored, len(c.Lost), c.LostByURL, c.DupIDs, c.DupURLs, c.DupTags, c.Unexpected, c.Duplicates()}
	want := counts{Stored: 2, Lost: 2, LostByURL: 1, DupIDs: 1, DupURLs: 2, DupTags: 1, Unexpected: 2, Duplicates: 4}
	if got != want {
		t.Errorf("check = %+v, want %+v", got, want)
	}
	if len(c.Lost) == 2 && (c.Lost[0].ID != "c" || c.Lost[1].ID != "d") {
		t.Errorf("lost %s and %s, want c and d", c.Lost[0].ID, c.Lost[1].ID)
	}
	if n, err := countStored(ctx, db, served); err != nil || n != 2 {
		t.Errorf("countStored = %d, %v; want 2", n, err)
	}
}

// TestCheckDeadLettersFindsMissingAndWrongReasons proves that the
// dead-letter comparison can fail, on a Kafka-protocol broker (kfake).
func TestCheckDeadLettersFindsMissingAndWrongReasons(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "dlq"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: "dlq", RequiredAcks: kafka.RequireAll, Balancer: &kafka.RoundRobin{}}
	letter := func(poisonID, reason string) kafka.Message {
		hs := []kafka.Header{{Key: bus.HeaderDLQReason, Value: []byte(reason)}}
		if poisonID != "" {
			hs = append(hs, kafka.Header{Key: headerPoison, Value: []byte(poisonID)})
		}
		return kafka.Message{Key: []byte(poisonID), Value: []byte("x"), Headers: hs}
	}
	err = w.WriteMessages(ctx,
		letter("p1", bus.ReasonMalformed), letter("p1", bus.ReasonMalformed), // redelivered: still one
		letter("p2", bus.ReasonMalformed), // wrong reason
		letter("", bus.ReasonInvalid),     // a real article
	)
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	sent := []poison{
		{ID: "p1", Reason: bus.ReasonMalformed},
		{ID: "p2", Reason: bus.ReasonTooLarge},
		{ID: "p3", Reason: bus.ReasonSchemaVersion}, // never dead-lettered
	}
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	d, err := checkDeadLetters(ctx, brokers, client, "dlq", sent)
	if err != nil {
		t.Fatal(err)
	}
	if d.read != 4 || d.found != 1 || len(d.missing) != 2 || len(d.other) != 1 {
		t.Errorf("read %d, found %d, missing %q, other %q; want 4, 1, p2 and p3, one", d.read, d.found, d.missing, d.other)
	}
}
