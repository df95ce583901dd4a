package topics

import (
	"reflect"
	"testing"
)

// FuzzMatch checks that Match never panics and always honours its contract:
// valid evidence spans, scores in [threshold, 1], order, determinism.
func FuzzMatch(f *testing.F) {
	text, body := loadSeed(f)
	f.Add(text, body)
	f.Add("Arms deal\n\narms were traded for oil; no cyberattack amid the war.", 11)
	f.Add("", 0)
	f.Add("U.S.-supplied weapons. 1.6 million shells! Hearing aid", 3)
	f.Add("\xff\xfe arms \xc3\x28 trade", -1)
	f.Add("Война и мир: перемирие", 1000)
	m, err := Default().Matcher(-1)
	if err != nil {
		f.Fatal(err)
	}
	all, err := Default().Matcher(0)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string, bodyStart int) {
		got := m.Match(text, bodyStart)
		checkTopics(t, text, got, m.Threshold())
		if again := m.Match(text, bodyStart); !reflect.DeepEqual(got, again) {
			t.Fatalf("not deterministic: %v vs %v", got, again)
		}
		checkTopics(t, text, all.Match(text, bodyStart), 0)
	})
}
