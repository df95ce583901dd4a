// Package topics tags news text with the topics of a taxonomy the user owns
// (arms trade, mutual defence, military aid, sanctions, ...), each with a score
// in [0,1] and the text spans that earned it.
//
// A Taxonomy is a list of topics, each with cue phrases. Cues are matched on
// word stems, so one cue covers its inflections ("trade arms" also matches
// "trading arms"); a cue may allow other words in between and any word order
// ("arms were traded"), and a co-occurrence cue needs one phrase of each of
// its groups within a window of words in the same sentence (a military word
// near an aid word). Exclusions cancel cue hits they overlap ("hearing aid",
// "arms of the chair"). The score grows with the number of distinct cues, their
// weights and where they occur (title and lead count more); hits after a
// negation ("no", "denied") or a passing-mention marker ("amid", "despite")
// count less, so an election story that says "amid the war" once does not make
// armed_conflict.
//
// Default returns the taxonomy embedded in the binary; Load reads a user's
// YAML file that extends or replaces it. The package is pure: text in, topics
// out, no I/O besides Load.
package topics

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultFile is the name under which errors in the embedded taxonomy are
// reported.
const DefaultFile = "default.yaml"

// ErrInvalid is wrapped by every error that rejects a taxonomy file.
var ErrInvalid = errors.New("invalid taxonomy")

// Taxonomy is a set of topics and the settings that score them. The zero
// value is not useful: build one with Default, Load or Parse.
type Taxonomy struct {
	// Threshold is the default minimum score for a topic to be reported.
	Threshold float64
	// TitleBoost and LeadBoost multiply the weight of cue hits in the title
	// and in the first sentence of the body.
	TitleBoost, LeadBoost float64
	// StrongWeight and WeakFactor make weak evidence count less: when no hit
	// of a topic comes from a cue weighing at least StrongWeight and fewer
	// than three distinct cues hit, the topic's raw score is multiplied by
	// WeakFactor.
	StrongWeight, WeakFactor float64
	// Negations are single words that, up to NegationScope words before a cue
	// hit in the same sentence, multiply its weight by NegationFactor.
	Negations      []string
	NegationFactor float64
	// Passing are single words that mark a passing mention ("amid the war"):
	// up to NegationScope words before a hit in the same sentence they
	// multiply its weight by PassingFactor.
	Passing       []string
	PassingFactor float64
	NegationScope int
	// Topics in file order; ids are unique.
	Topics []Topic

	lines map[string]int // line of each setting in the file that set it last
}

// line returns the line of the setting key, or 1.
func (t *Taxonomy) line(key string) int {
	if l := t.lines[key]; l > 0 {
		return l
	}
	return 1
}

// Topic is one entry of the taxonomy.
type Topic struct {
	// ID is the stable identifier: lower-case letters, digits and '_'.
	ID          string
	Label       string
	Description string
	// GDELT lists corresponding GDELT GKG theme names; CAMEO lists CAMEO
	// event codes. Both are informative only.
	GDELT []string
	CAMEO []string
	Cues  []Cue
	// Exclude lists phrases (matched like cue phrases, in order, contiguous)
	// that cancel any of this topic's cue hits they overlap.
	Exclude []string

	line int
}

// Cue is one piece of evidence for a topic: either a phrase or a
// co-occurrence of phrase groups (All).
type Cue struct {
	// Phrase is a sequence of words matched on stems; a word written with a
	// leading '=' must match exactly (case-insensitively) instead.
	Phrase string
	// Gap is how many other words may stand between consecutive words of
	// Phrase (0: contiguous).
	Gap int
	// AnyOrder lets the words of Phrase appear in any order (within Gap).
	AnyOrder bool
	// All is a co-occurrence cue: one phrase of every group must occur within
	// Window words of each other in one sentence.
	All    [][]string
	Window int
	// Weight is the cue's strength: about 1 for a cue that alone shows the
	// topic, 0.3 for one that only supports it.
	Weight float64

	line int
}

// Built-in settings used when a file leaves them out.
const (
	defaultThreshold      = 0.5
	defaultTitleBoost     = 2.0
	defaultLeadBoost      = 1.5
	defaultNegationFactor = 0.2
	defaultPassingFactor  = 0.3
	defaultNegationScope  = 3
	defaultStrongWeight   = 0.5
	defaultWeakFactor     = 0.5
	defaultWindow         = 8
	defaultWeight         = 1.0
	maxWeight             = 5
	maxGap                = 10
	maxWindow             = 40
)

// Default returns the taxonomy embedded in the binary. It parses the embedded
// file on every call, so callers may modify the result.
func Default() *Taxonomy {
	t, err := Parse(DefaultFile, defaultYAML, nil, true)
	if err != nil {
		panic(fmt.Sprintf("topics: embedded taxonomy: %v", err)) // caught by TestDefault
	}
	return t
}

// Load reads a taxonomy file. With replace, the file is the whole taxonomy;
// otherwise it extends base (nil base means Default()): its topics are added,
// a topic with the id of a base topic replaces it (or, with merge: true, adds
// cues and exclusions to it), ids under remove are dropped, and settings it
// sets override base's. Errors wrap ErrInvalid and name the file, the line
// and the reason.
func Load(path string, base *Taxonomy, replace bool) (*Taxonomy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load taxonomy: %w", err)
	}
	if !replace && base == nil {
		base = Default()
	}
	return Parse(path, b, base, replace)
}

// Parse is Load for bytes already read; name is used in errors.
func Parse(name string, data []byte, base *Taxonomy, replace bool) (*Taxonomy, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %s:1: file is empty", ErrInvalid, name)
		}
		return nil, fmt.Errorf("%w: %s", ErrInvalid, yamlError(name, err))
	}
	var t *Taxonomy
	if replace || base == nil {
		if len(f.Remove) > 0 {
			return nil, fmt.Errorf("%w: %s:%d: remove is only allowed when extending a taxonomy", ErrInvalid, name, f.removeLine)
		}
		t = &Taxonomy{
			Threshold: defaultThreshold, TitleBoost: defaultTitleBoost, LeadBoost: defaultLeadBoost,
			NegationFactor: defaultNegationFactor, PassingFactor: defaultPassingFactor,
			NegationScope: defaultNegationScope, StrongWeight: defaultStrongWeight, WeakFactor: defaultWeakFactor,
		}
	} else {
		t = base.clone()
	}
	f.apply(t)
	if err := t.merge(name, &f); err != nil {
		return nil, err
	}
	if err := t.validate(name); err != nil {
		return nil, err
	}
	return t, nil
}

// yamlError turns a yaml.v3 error ("yaml: line 3: ...") into "name:3: ...".
var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

func yamlError(name string, err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		parts := make([]string, len(te.Errors))
		for i, e := range te.Errors {
			parts[i] = lineMsg(name, e)
		}
		return strings.Join(parts, "; ")
	}
	return lineMsg(name, err.Error())
}

func lineMsg(name, msg string) string {
	msg = strings.TrimPrefix(msg, "yaml: ")
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		return name + ":" + m[1] + ": " + m[2]
	}
	return name + ": " + msg
}

func (t *Taxonomy) clone() *Taxonomy {
	c := *t
	c.lines = maps.Clone(t.lines)
	c.Negations = slices.Clone(t.Negations)
	c.Passing = slices.Clone(t.Passing)
	c.Topics = make([]Topic, len(t.Topics))
	for i, tp := range t.Topics {
		c.Topics[i] = tp.clone()
	}
	return &c
}

func (tp Topic) clone() Topic {
	tp.GDELT = slices.Clone(tp.GDELT)
	tp.CAMEO = slices.Clone(tp.CAMEO)
	tp.Exclude = slices.Clone(tp.Exclude)
	tp.Cues = slices.Clone(tp.Cues)
	for i := range tp.Cues {
		tp.Cues[i].All = slices.Clone(tp.Cues[i].All)
		for j := range tp.Cues[i].All {
			tp.Cues[i].All[j] = slices.Clone(tp.Cues[i].All[j])
		}
	}
	return tp
}

// merge adds the file's topics to t and drops the removed ones.
func (t *Taxonomy) merge(name string, f *file) error {
	for _, id := range f.Remove {
		i := t.index(id)
		if i < 0 {
			return fmt.Errorf("%w: %s:%d: remove: no topic %q to remove", ErrInvalid, name, f.removeLine, id)
		}
		t.Topics = slices.Delete(t.Topics, i, i+1)
	}
	seen := map[string]int{}
	for _, ft := range f.Topics {
		if prev, dup := seen[ft.ID]; dup && ft.ID != "" {
			return fmt.Errorf("%w: %s:%d: topic %q: id already defined at line %d", ErrInvalid, name, ft.line, ft.ID, prev)
		}
		seen[ft.ID] = ft.line
		tp := ft.topic()
		i := t.index(ft.ID)
		switch {
		case ft.Merge && i < 0:
			return fmt.Errorf("%w: %s:%d: topic %q: merge: true but no such topic to merge into", ErrInvalid, name, ft.line, ft.ID)
		case ft.Merge:
			old := &t.Topics[i]
			if tp.Label != "" {
				old.Label = tp.Label
			}
			if tp.Description != "" {
				old.Description = tp.Description
			}
			old.GDELT = append(old.GDELT, tp.GDELT...)
			old.CAMEO = append(old.CAMEO, tp.CAMEO...)
			old.Cues = append(old.Cues, tp.Cues...)
			old.Exclude = append(old.Exclude, tp.Exclude...)
			old.line = tp.line
		case i >= 0:
			t.Topics[i] = tp
		default:
			t.Topics = append(t.Topics, tp)
		}
	}
	return nil
}

func (t *Taxonomy) index(id string) int {
	return slices.IndexFunc(t.Topics, func(tp Topic) bool { return tp.ID == id })
}

var idPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

func (t *Taxonomy) validate(name string) error {
	bad := func(line int, format string, args ...any) error {
		return fmt.Errorf("%w: %s:%d: %s", ErrInvalid, name, line, fmt.Sprintf(format, args...))
	}
	if t.Threshold <= 0 || t.Threshold > 1 {
		return bad(t.line("threshold"), "threshold must be in (0,1], got %v", t.Threshold)
	}
	for _, v := range []struct {
		name string
		v    float64
	}{{"title_boost", t.TitleBoost}, {"lead_boost", t.LeadBoost}} {
		if v.v < 1 || v.v > 10 {
			return bad(t.line(v.name), "%s must be in [1,10], got %v", v.name, v.v)
		}
	}
	for _, v := range []struct {
		name string
		v    float64
	}{{"negation_factor", t.NegationFactor}, {"passing_factor", t.PassingFactor}, {"weak_factor", t.WeakFactor}} {
		if v.v < 0 || v.v > 1 {
			return bad(t.line(v.name), "%s must be in [0,1], got %v", v.name, v.v)
		}
	}
	if t.StrongWeight < 0 || t.StrongWeight > maxWeight {
		return bad(t.line("strong_weight"), "strong_weight must be in [0,%d], got %v", maxWeight, t.StrongWeight)
	}
	if t.NegationScope < 0 || t.NegationScope > 10 {
		return bad(t.line("negation_scope"), "negation_scope must be in [0,10], got %d", t.NegationScope)
	}
	for key, list := range map[string][]string{"negations": t.Negations, "passing": t.Passing} {
		for _, w := range list {
			if ws := splitWords(w); len(ws) != 1 {
				return bad(t.line(key), "%s: markers must be single words, got %q", key, w)
			}
		}
	}
	if len(t.Topics) == 0 {
		return bad(t.line("topics"), "no topics")
	}
	ids := map[string]bool{}
	for _, tp := range t.Topics {
		if !idPattern.MatchString(tp.ID) {
			return bad(tp.line, "topic id %q: must be lower-case letters, digits and '_', starting with a letter", tp.ID)
		}
		if ids[tp.ID] {
			return bad(tp.line, "topic %q: duplicate id", tp.ID)
		}
		ids[tp.ID] = true
		if strings.TrimSpace(tp.Label) == "" {
			return bad(tp.line, "topic %q: label is empty", tp.ID)
		}
		if len(tp.Cues) == 0 {
			return bad(tp.line, "topic %q: no cues", tp.ID)
		}
		for _, ex := range tp.Exclude {
			if len(splitWords(ex)) == 0 {
				return bad(tp.line, "topic %q: exclude %q has no words", tp.ID, ex)
			}
		}
		for _, c := range tp.Cues {
			line := c.line
			if line == 0 {
				line = tp.line
			}
			if err := c.validate(); err != nil {
				return bad(line, "topic %q: cue: %v", tp.ID, err)
			}
		}
	}
	return nil
}

func (c Cue) validate() error {
	switch {
	case c.Phrase == "" && len(c.All) == 0:
		return errors.New("needs phrase or all")
	case c.Phrase != "" && len(c.All) > 0:
		return errors.New("phrase and all are exclusive")
	case c.Weight <= 0 || c.Weight > maxWeight:
		return fmt.Errorf("weight must be in (0,%d], got %v", maxWeight, c.Weight)
	case c.Gap < 0 || c.Gap > maxGap:
		return fmt.Errorf("gap must be in [0,%d], got %d", maxGap, c.Gap)
	}
	if c.Phrase != "" {
		if len(splitWords(c.Phrase)) == 0 {
			return fmt.Errorf("phrase %q has no words", c.Phrase)
		}
		if c.Window != 0 {
			return errors.New("window applies only to all")
		}
		return nil
	}
	if c.AnyOrder {
		return errors.New("any_order applies only to phrase")
	}
	if len(c.All) < 2 {
		return fmt.Errorf("all needs at least 2 groups, got %d", len(c.All))
	}
	if c.Window < 1 || c.Window > maxWindow {
		return fmt.Errorf("window must be in [1,%d], got %d", maxWindow, c.Window)
	}
	for i, g := range c.All {
		if len(g) == 0 {
			return fmt.Errorf("all: group %d is empty", i+1)
		}
		for _, p := range g {
			if len(splitWords(p)) == 0 {
				return fmt.Errorf("all: group %d: phrase %q has no words", i+1, p)
			}
		}
	}
	return nil
}

// WriteYAML writes t in the file format Load reads; loading the output with
// replace gives an equal taxonomy.
func (t *Taxonomy) WriteYAML(w io.Writer) error {
	f := fileOut{
		Version: 1, Threshold: t.Threshold, TitleBoost: t.TitleBoost, LeadBoost: t.LeadBoost,
		Negations: t.Negations, NegationFactor: t.NegationFactor,
		Passing: t.Passing, PassingFactor: t.PassingFactor, NegationScope: t.NegationScope,
		StrongWeight: t.StrongWeight, WeakFactor: t.WeakFactor,
	}
	for _, tp := range t.Topics {
		ft := topicOut{ID: tp.ID, Label: tp.Label, Description: tp.Description,
			GDELT: tp.GDELT, CAMEO: tp.CAMEO, Exclude: tp.Exclude}
		for _, c := range tp.Cues {
			ft.Cues = append(ft.Cues, cueOut(c))
		}
		f.Topics = append(f.Topics, ft)
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return fmt.Errorf("write taxonomy: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("write taxonomy: %w", err)
	}
	return nil
}

// IDs returns the topic ids in taxonomy order.
func (t *Taxonomy) IDs() []string {
	ids := make([]string, len(t.Topics))
	for i, tp := range t.Topics {
		ids[i] = tp.ID
	}
	return ids
}
