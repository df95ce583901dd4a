package topics

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// userTopic is the worked example of docs/taxonomy.md.
const userTopic = `# Extend the default taxonomy with a topic on undersea cables.
threshold: 0.45
topics:
  - id: undersea_cables
    label: Undersea cables
    description: Damage to, sabotage of or protection of undersea data and power cables.
    gdelt: [INFRASTRUCTURE_BAD_ROADS]
    cues:
      - undersea cable
      - subsea cable
      - {phrase: cable cut, any_order: true, gap: 3}
      - {phrase: anchor, weight: 0.3}
      - all:
          - [cable, pipeline]
          - [sabotage, damage, severed, cut]
        window: 8
        weight: 0.8
    exclude: [cable car, cable tv, cable television]
`

func TestLoadExtend(t *testing.T) {
	path := writeFile(t, "cables.yaml", userTopic)
	tax, err := Load(path, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	all := tax.IDs()
	if len(all) != len(requiredIDs)+1 || all[len(all)-1] != "undersea_cables" {
		t.Fatalf("ids = %v, want the defaults then undersea_cables", all)
	}
	if tax.Threshold != 0.45 {
		t.Errorf("threshold %v, want the file's 0.45", tax.Threshold)
	}
	m, err := tax.Matcher(-1)
	if err != nil {
		t.Fatal(err)
	}
	title := "Baltic undersea cable severed, Finland suspects sabotage"
	text := title + "\n\nA data cable between Finland and Estonia was cut on Sunday. Investigators said a ship had dragged its anchor across the seabed."
	got := m.Match(text, len(title)+2)
	tp, ok := find(got, "undersea_cables")
	if !ok {
		t.Fatalf("undersea_cables not found: %v", ids(got))
	}
	checkTopics(t, text, got, 0.45)
	if tp.Label != "Undersea cables" {
		t.Errorf("label %q", tp.Label)
	}
	// The homograph exclusion works for user topics too.
	text = "Cable car reopens\n\nThe cable car to the summit reopened after repairs to damage from the storm."
	if _, ok := find(m.Match(text, len("Cable car reopens")+2), "undersea_cables"); ok {
		t.Error("cable car tagged as undersea_cables")
	}
}

func TestLoadReplace(t *testing.T) {
	path := writeFile(t, "only.yaml", userTopic)
	tax, err := Load(path, Default(), true)
	if err != nil {
		t.Fatal(err)
	}
	if got := tax.IDs(); !slices.Equal(got, []string{"undersea_cables"}) {
		t.Errorf("ids = %v, want only undersea_cables", got)
	}
	if tax.TitleBoost != defaultTitleBoost || tax.Negations != nil {
		t.Errorf("replace kept base settings: title boost %v, negations %v", tax.TitleBoost, tax.Negations)
	}
}

func TestLoadMergeRemoveOverride(t *testing.T) {
	path := writeFile(t, "edit.yaml", `
remove: [climate, economy]
topics:
  - id: sanctions
    merge: true
    cues: [{phrase: trade restrictions, weight: 0.9}]
  - id: coup
    label: Coups d'état
    cues: [putsch]
`)
	tax, err := Load(path, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if i := tax.index("climate"); i >= 0 {
		t.Error("climate not removed")
	}
	s := tax.Topics[tax.index("sanctions")]
	if s.Label != "Sanctions" || s.Cues[len(s.Cues)-1].Phrase != "trade restrictions" || len(s.Cues) < 10 {
		t.Errorf("merge: label %q, %d cues, last %q", s.Label, len(s.Cues), s.Cues[len(s.Cues)-1].Phrase)
	}
	c := tax.Topics[tax.index("coup")]
	if c.Label != "Coups d'état" || len(c.Cues) != 1 {
		t.Errorf("override: label %q, %d cues; want the file's topic only", c.Label, len(c.Cues))
	}
	if d := Default(); len(d.Topics[d.index("sanctions")].Cues) == len(s.Cues) {
		t.Error("merge changed the base taxonomy")
	}
}

// TestLoadErrors checks that each kind of mistake is reported with the file,
// the line and the reason.
func TestLoadErrors(t *testing.T) {
	for _, c := range []struct {
		name, content string
		replace       bool
		want          string // substring after "file.yaml:"
	}{
		{"yaml syntax", "threshold: 0.4\ntopics:\n\t- id: x\n", false, "3: found character that cannot start any token"},
		{"wrong type", "threshold: high\n", false, "1: cannot unmarshal !!str `high` into float64"},
		{"unknown top-level field", "treshold: 0.4\n", false, `1: unknown field "treshold"`},
		{"unknown topic field", "topics:\n  - id: x\n    label: X\n    cue: [a]\n", false, `4: unknown field "cue"`},
		{"unknown cue field", "topics:\n  - id: x\n    label: X\n    cues:\n      - {phrase: a, wieght: 2}\n", false, `5: unknown field "wieght"`},
		{"bad id", "topics:\n  - id: Arms-Trade\n    label: X\n    cues: [a]\n", false, `2: topic id "Arms-Trade"`},
		{"duplicate id", "topics:\n  - id: x\n    label: X\n    cues: [a]\n  - id: x\n    label: Y\n    cues: [b]\n", false, `5: topic "x": id already defined at line 2`},
		{"no label", "topics:\n  - id: x\n    cues: [a]\n", false, `2: topic "x": label is empty`},
		{"no cues", "topics:\n  - id: x\n    label: X\n", false, `2: topic "x": no cues`},
		{"weight out of range", "topics:\n  - id: x\n    label: X\n    cues:\n      - a\n      - {phrase: b, weight: 7}\n", false, `6: topic "x": cue: weight must be in (0,5]`},
		{"phrase and all", "topics:\n  - id: x\n    label: X\n    cues:\n      - {phrase: b, all: [[a], [c]]}\n", false, "5: topic \"x\": cue: phrase and all are exclusive"},
		{"one group", "topics:\n  - id: x\n    label: X\n    cues:\n      - all: [[a, b]]\n", false, "5: topic \"x\": cue: all needs at least 2 groups"},
		{"empty phrase", "topics:\n  - id: x\n    label: X\n    cues: [\"...\"]\n", false, `4: topic "x": cue: phrase "..." has no words`},
		{"gap too large", "topics:\n  - id: x\n    label: X\n    cues:\n      - {phrase: a b, gap: 50}\n", false, "5: topic \"x\": cue: gap must be in [0,10]"},
		{"threshold", "topics: []\nthreshold: 1.5\n", false, "2: threshold must be in (0,1]"},
		{"remove unknown", "remove: [nonexistent]\n", false, `1: remove: no topic "nonexistent"`},
		{"merge unknown", "topics:\n  - id: nonexistent\n    merge: true\n    cues: [a]\n", false, `2: topic "nonexistent": merge: true but no such topic`},
		{"remove in replace mode", "remove: [climate]\ntopics:\n  - id: x\n    label: X\n    cues: [a]\n", true, "1: remove is only allowed when extending"},
		{"replace with no topics", "threshold: 0.4\n", true, "1: no topics"},
		{"version", "version: 2\n", false, "1: version 2 is not supported"},
		{"empty file", "", false, "1: file is empty"},
		{"topic not a mapping", "topics:\n  - just a string\n", false, "2: a topic must be a mapping"},
		{"multi-word negation", "threshold: 0.4\nnegations: [ruled out]\n", false, `2: negations: markers must be single words, got "ruled out"`},
		{"factor out of range", "passing_factor: 3\n", false, "1: passing_factor must be in [0,1], got 3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, "file.yaml", c.content)
			_, err := Load(path, nil, c.replace)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if want := path + ":" + c.want; !strings.Contains(err.Error(), want) {
				t.Errorf("error\n  %v\nwant it to contain\n  %s", err, want)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), nil, false); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want a not-exist error", err)
	}
}

// TestWriteYAMLRoundTrip: the printed taxonomy loads back (replace mode) to a
// taxonomy that prints the same and matches the same.
func TestWriteYAMLRoundTrip(t *testing.T) {
	for _, tax := range []*Taxonomy{Default(), mustLoad(t, userTopic)} {
		var first bytes.Buffer
		if err := tax.WriteYAML(&first); err != nil {
			t.Fatal(err)
		}
		back, err := Parse("printed.yaml", first.Bytes(), nil, true)
		if err != nil {
			t.Fatalf("printed taxonomy does not load: %v\n%s", err, first.String())
		}
		var second bytes.Buffer
		if err := back.WriteYAML(&second); err != nil {
			t.Fatal(err)
		}
		if first.String() != second.String() {
			t.Errorf("WriteYAML is not stable across a round trip")
		}
		m1, _ := tax.Matcher(-1)
		m2, _ := back.Matcher(-1)
		text, body := loadSeed(t)
		if a, b := m1.Match(text, body), m2.Match(text, body); len(a) != len(b) {
			t.Errorf("round-tripped taxonomy matches differently: %v vs %v", ids(a), ids(b))
		}
	}
}

func mustLoad(t *testing.T, content string) *Taxonomy {
	t.Helper()
	tax, err := Load(writeFile(t, "t.yaml", content), nil, false)
	if err != nil {
		t.Fatal(err)
	}
	return tax
}
