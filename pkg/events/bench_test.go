package events_test

import (
	"encoding/json"
	"testing"

	"github.com/newsflow/newsflow/pkg/events"
)

func BenchmarkDecodeEnriched(b *testing.B) {
	msg, err := json.Marshal(enriched())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := events.DecodeEnriched(msg); err != nil {
			b.Fatal(err)
		}
	}
}
