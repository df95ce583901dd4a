package events_test

import (
	"encoding/json"
	"errors"
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
