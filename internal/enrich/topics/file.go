package topics

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// file is the YAML shape of a taxonomy file (see docs/taxonomy.md). Pointer
// settings are nil when the file leaves them out.
type file struct {
	Version        int         `yaml:"version"`
	Threshold      *float64    `yaml:"threshold"`
	TitleBoost     *float64    `yaml:"title_boost"`
	LeadBoost      *float64    `yaml:"lead_boost"`
	Negations      *[]string   `yaml:"negations"`
	NegationFactor *float64    `yaml:"negation_factor"`
	Passing        *[]string   `yaml:"passing"`
	PassingFactor  *float64    `yaml:"passing_factor"`
	NegationScope  *int        `yaml:"negation_scope"`
	StrongWeight   *float64    `yaml:"strong_weight"`
	WeakFactor     *float64    `yaml:"weak_factor"`
	Remove         []string    `yaml:"remove"`
	Topics         []fileTopic `yaml:"topics"`

	removeLine int
	lines      map[string]int // line of each top-level key
}

// UnmarshalYAML decodes the document, checking its keys and remembering lines.
func (f *file) UnmarshalYAML(n *yaml.Node) error {
	if err := checkKeys(n, "version", "threshold", "title_boost", "lead_boost", "negations",
		"negation_factor", "passing", "passing_factor", "negation_scope", "strong_weight", "weak_factor",
		"remove", "topics"); err != nil {
		return err
	}
	type plain file
	if err := n.Decode((*plain)(f)); err != nil {
		return err
	}
	if v := valueOf(n, "remove"); v != nil {
		f.removeLine = v.Line
	}
	f.lines = map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		f.lines[n.Content[i].Value] = n.Content[i].Line
	}
	if f.Version != 0 && f.Version != 1 {
		return fmt.Errorf("line %d: version %d is not supported (want 1)", valueOf(n, "version").Line, f.Version)
	}
	return nil
}

func (f *file) apply(t *Taxonomy) {
	if t.lines == nil {
		t.lines = map[string]int{}
	}
	for k, l := range f.lines {
		t.lines[k] = l
	}
	set := func(dst *float64, src *float64) {
		if src != nil {
			*dst = *src
		}
	}
	set(&t.Threshold, f.Threshold)
	set(&t.TitleBoost, f.TitleBoost)
	set(&t.LeadBoost, f.LeadBoost)
	set(&t.NegationFactor, f.NegationFactor)
	set(&t.PassingFactor, f.PassingFactor)
	set(&t.StrongWeight, f.StrongWeight)
	set(&t.WeakFactor, f.WeakFactor)
	if f.NegationScope != nil {
		t.NegationScope = *f.NegationScope
	}
	if f.Negations != nil {
		t.Negations = slices.Clone(*f.Negations)
	}
	if f.Passing != nil {
		t.Passing = slices.Clone(*f.Passing)
	}
}

type fileTopic struct {
	ID          string    `yaml:"id"`
	Label       string    `yaml:"label"`
	Description string    `yaml:"description"`
	GDELT       []string  `yaml:"gdelt"`
	CAMEO       []string  `yaml:"cameo"`
	Cues        []fileCue `yaml:"cues"`
	Exclude     []string  `yaml:"exclude"`
	Merge       bool      `yaml:"merge"`

	line int
}

// UnmarshalYAML decodes one topic, checking its keys.
func (ft *fileTopic) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a topic must be a mapping with id, label, cues", n.Line)
	}
	if err := checkKeys(n, "id", "label", "description", "gdelt", "cameo", "cues", "exclude", "merge"); err != nil {
		return err
	}
	type plain fileTopic
	if err := n.Decode((*plain)(ft)); err != nil {
		return err
	}
	ft.line = n.Line
	if v := valueOf(n, "id"); v != nil {
		ft.line = v.Line
	}
	return nil
}

func (ft fileTopic) topic() Topic {
	tp := Topic{ID: ft.ID, Label: ft.Label, Description: strings.TrimSpace(ft.Description),
		GDELT: ft.GDELT, CAMEO: ft.CAMEO, Exclude: ft.Exclude, line: ft.line}
	for _, c := range ft.Cues {
		tp.Cues = append(tp.Cues, c.cue())
	}
	return tp
}

// fileCue is a cue: a plain string (a phrase of weight 1) or a mapping.
type fileCue struct {
	Phrase   string     `yaml:"phrase"`
	Gap      int        `yaml:"gap"`
	AnyOrder bool       `yaml:"any_order"`
	All      [][]string `yaml:"all"`
	Window   int        `yaml:"window"`
	Weight   *float64   `yaml:"weight"`

	line int
}

// UnmarshalYAML accepts the string shorthand or the mapping form.
func (fc *fileCue) UnmarshalYAML(n *yaml.Node) error {
	fc.line = n.Line
	if n.Kind == yaml.ScalarNode {
		fc.Phrase = n.Value
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a cue must be a phrase or a mapping", n.Line)
	}
	if err := checkKeys(n, "phrase", "gap", "any_order", "all", "window", "weight"); err != nil {
		return err
	}
	type plain fileCue
	if err := n.Decode((*plain)(fc)); err != nil {
		return err
	}
	fc.line = n.Line
	return nil
}

func (fc fileCue) cue() Cue {
	c := Cue{Phrase: fc.Phrase, Gap: fc.Gap, AnyOrder: fc.AnyOrder, All: fc.All, Window: fc.Window,
		Weight: defaultWeight, line: fc.line}
	if fc.Weight != nil {
		c.Weight = *fc.Weight
	}
	if len(c.All) > 0 && c.Window == 0 {
		c.Window = defaultWindow
	}
	return c
}

// checkKeys rejects keys of mapping n that are not in allowed.
func checkKeys(n *yaml.Node, allowed ...string) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: expected a mapping", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !slices.Contains(allowed, k.Value) {
			return fmt.Errorf("line %d: unknown field %q (allowed: %s)", k.Line, k.Value, strings.Join(allowed, ", "))
		}
	}
	return nil
}

func valueOf(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// Output shapes for WriteYAML: settings always written, empty lists omitted.
type fileOut struct {
	Version        int        `yaml:"version"`
	Threshold      float64    `yaml:"threshold"`
	TitleBoost     float64    `yaml:"title_boost"`
	LeadBoost      float64    `yaml:"lead_boost"`
	Negations      []string   `yaml:"negations,flow"`
	NegationFactor float64    `yaml:"negation_factor"`
	Passing        []string   `yaml:"passing,flow"`
	PassingFactor  float64    `yaml:"passing_factor"`
	NegationScope  int        `yaml:"negation_scope"`
	StrongWeight   float64    `yaml:"strong_weight"`
	WeakFactor     float64    `yaml:"weak_factor"`
	Topics         []topicOut `yaml:"topics"`
}

type topicOut struct {
	ID          string   `yaml:"id"`
	Label       string   `yaml:"label"`
	Description string   `yaml:"description,omitempty"`
	GDELT       []string `yaml:"gdelt,omitempty,flow"`
	CAMEO       []string `yaml:"cameo,omitempty,flow"`
	Cues        []any    `yaml:"cues"`
	Exclude     []string `yaml:"exclude,omitempty"`
}

type cueMap struct {
	Phrase   string     `yaml:"phrase,omitempty"`
	Gap      int        `yaml:"gap,omitempty"`
	AnyOrder bool       `yaml:"any_order,omitempty"`
	All      [][]string `yaml:"all,omitempty,flow"`
	Window   int        `yaml:"window,omitempty"`
	Weight   float64    `yaml:"weight"`
}

// cueOut is the shortest form of c: a string for a plain phrase of weight 1,
// else a one-line flow mapping.
func cueOut(c Cue) any {
	if c.Phrase != "" && c.Gap == 0 && !c.AnyOrder && c.Weight == defaultWeight {
		return c.Phrase
	}
	var n yaml.Node
	if err := n.Encode(cueMap{Phrase: c.Phrase, Gap: c.Gap, AnyOrder: c.AnyOrder, All: c.All, Window: c.Window, Weight: c.Weight}); err != nil {
		return cueMap{Phrase: c.Phrase, Gap: c.Gap, AnyOrder: c.AnyOrder, All: c.All, Window: c.Window, Weight: c.Weight}
	}
	if len(c.All) == 0 {
		n.Style = yaml.FlowStyle
	}
	return &n
}
