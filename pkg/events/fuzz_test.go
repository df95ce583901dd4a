package events_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/newsflow/newsflow/pkg/events"
)

// FuzzDecode feeds arbitrary bytes to both decoders. Whatever they accept
// must validate, re-encode, and decode again to the same document; whatever
// they refuse must be refused with one of the package's errors.
func FuzzDecode(f *testing.F) {
	good, _ := json.Marshal(enriched())
	rawGood, _ := json.Marshal(raw())
	for _, s := range [][]byte{good, rawGood, []byte(`{}`), []byte(`{"schema_version":1}`), []byte(`{"schema_version":2,"id":"x"}`),
		[]byte(`[]`), []byte(`null`), []byte(`{"schema_version":1,"id":"x","source":{"feed_url":"u"},"fetched_at":"2024-01-01T00:00:00Z","text":"ab","enricher_version":"v","countries":[{"code":"KP","score":0.5,"mentions":[{"start":1,"end":0,"surface":""}]}]}`)} {
		f.Add(s)
	}
	known := func(err error) bool {
		return errors.Is(err, events.ErrMalformed) || errors.Is(err, events.ErrSchemaVersion) || errors.Is(err, events.ErrInvalid)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if a, err := events.DecodeEnriched(b); err == nil {
			if err := a.Validate(); err != nil {
				t.Fatalf("decoded enriched article does not validate: %v", err)
			}
			b2, err := json.Marshal(a)
			if err != nil {
				t.Fatal(err)
			}
			a2, err := events.DecodeEnriched(b2)
			if err != nil {
				t.Fatalf("re-encoded article does not decode: %v\n%s", err, b2)
			}
			b3, _ := json.Marshal(a2)
			if string(b2) != string(b3) {
				t.Fatalf("encoding is not stable:\n%s\n%s", b2, b3)
			}
		} else if !known(err) {
			t.Fatalf("DecodeEnriched error %v is none of ErrMalformed, ErrSchemaVersion, ErrInvalid", err)
		}
		if a, err := events.DecodeRaw(b); err == nil {
			if err := a.Validate(); err != nil {
				t.Fatalf("decoded raw article does not validate: %v", err)
			}
		} else if !known(err) {
			t.Fatalf("DecodeRaw error %v is none of the package's errors", err)
		}
	})
}

// FuzzDecodeAgrees holds the decoders to encoding/json: whatever DecodeRaw
// and DecodeEnriched accept (they decode with github.com/segmentio/encoding
// when they can), encoding/json must accept and decode to the same article, and
// whatever encoding/json accepts as a valid article, they must accept.
func FuzzDecodeAgrees(f *testing.F) {
	good, _ := json.Marshal(enriched())
	rawGood, _ := json.Marshal(raw())
	for _, s := range [][]byte{good, rawGood,
		[]byte(`{"schema_version":1,"id":"x\ud800y","source":{"feed_url":"u"},"fetched_at":"2024-01-01T00:00:00Z","enricher_version":"v"}`),
		[]byte(`{"schema_version":1,"id":"\ud83d\ude00","ID":"b","Id":"c","source":{"feed_url":"u","feed_url":"w"},"fetched_at":"2024-01-01T00:00:00Z"}`),
		[]byte(`{"schema_version":1.0,"id":"x","source":{"feed_url":"u"},"fetched_at":"2024-01-01T00:00:00+02:00","countries":null,"people":[],"text":"a\u0000b"}`),
		[]byte(`{"schema_version":1,"id":"x","source":{"feed_url":"u"},"fetched_at":"2024-01-01T00:00:00Z","countries":[{"code":"KP","score":1e400}]}`),
		[]byte(`{"schema_version":1,"id":"x","source":{"feed_url":"u"},"fetched_at":"2024-01-01T00:00:00Z","topics":[{"id":"t","score":-0,"evidence":[{"start":1,"end":2}]}]} `),
		[]byte(`{"schema_version":1,"id":"x","source":{"feed_url":"u"},"fetched_at":"2024-01-01T00:00:00Z"}x`),
		[]byte(`{"schema_version":"1","id":7}`),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		agrees(t, "DecodeRaw", b, events.DecodeRaw, events.RawArticle.Validate)
		agrees(t, "DecodeEnriched", b, events.DecodeEnriched, events.EnrichedArticle.Validate)
	})
}

// agrees checks decode against encoding/json on b (see FuzzDecodeAgrees).
func agrees[T any](t *testing.T, name string, b []byte, decode func([]byte) (T, error), validate func(T) error) {
	t.Helper()
	var want T
	std := json.Unmarshal(b, &want) == nil && validate(want) == nil
	got, err := decode(b)
	switch {
	case err == nil && !std:
		t.Fatalf("%s accepts what encoding/json refuses:\n%q", name, b)
	case err != nil && std:
		t.Fatalf("%s refuses what encoding/json accepts: %v\n%q", name, err, b)
	case err == nil && !reflect.DeepEqual(got, want):
		t.Fatalf("%s and encoding/json disagree:\n%#v\n%#v\n%q", name, got, want, b)
	}
}
