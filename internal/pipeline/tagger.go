package pipeline

import (
	"flag"
	"fmt"
	"time"

	"github.com/newsflow/newsflow/internal/enrich"
	"github.com/newsflow/newsflow/internal/enrich/topics"
	"github.com/newsflow/newsflow/internal/flagenv"
	"github.com/newsflow/newsflow/pkg/events"
)

// TaggerFlags are the flags that shape tagging, shared by `enricher`,
// `enricher tag` and `newsflow run`.
type TaggerFlags struct {
	Taxonomy       string
	TaxonomyMode   string
	TopicThreshold float64
	Gazetteers     string
}

// RegisterFlags binds --taxonomy, --taxonomy-mode, --topic-threshold and
// --gazetteers.
func (t *TaggerFlags) RegisterFlags(fs *flag.FlagSet) {
	if t.TaxonomyMode == "" {
		t.TaxonomyMode = "extend"
	}
	if t.TopicThreshold == 0 {
		t.TopicThreshold = -1
	}
	flagenv.String(fs, &t.Taxonomy, "taxonomy", t.Taxonomy, "topic taxonomy YAML file that extends or replaces the default")
	flagenv.String(fs, &t.TaxonomyMode, "taxonomy-mode", t.TaxonomyMode, "extend or replace the default taxonomy with --taxonomy")
	flagenv.Float(fs, &t.TopicThreshold, "topic-threshold", t.TopicThreshold, "lowest topic score reported (negative: the taxonomy's default)")
	flagenv.String(fs, &t.Gazetteers, "gazetteers", t.Gazetteers, "folder of gazetteer files extending the embedded ones")
}

// TopicMatcher builds the topic matcher the flags describe. Errors name the
// flag (and, for a taxonomy file, its line and reason).
func (t TaggerFlags) TopicMatcher() (*topics.Matcher, *topics.Taxonomy, error) {
	var replace bool
	switch t.TaxonomyMode {
	case "extend", "":
	case "replace":
		replace = true
	default:
		return nil, nil, flagenv.Invalid("taxonomy-mode", t.TaxonomyMode, "want extend or replace")
	}
	if t.TopicThreshold > 1 {
		return nil, nil, flagenv.Invalid("topic-threshold", t.TopicThreshold, "want at most 1 (negative for the default)")
	}
	tax := topics.Default()
	if t.Taxonomy != "" {
		var err error
		if tax, err = topics.Load(t.Taxonomy, tax, replace); err != nil {
			return nil, nil, fmt.Errorf("invalid flag -taxonomy: %w", err)
		}
	}
	m, err := tax.Matcher(t.TopicThreshold)
	if err != nil {
		return nil, nil, fmt.Errorf("invalid flag -topic-threshold: %w", err)
	}
	return m, tax, nil
}

// Build loads gazetteers and taxonomy and returns the tagger.
func (t TaggerFlags) Build() (*TaxonomyTagger, error) {
	m, tax, err := t.TopicMatcher()
	if err != nil {
		return nil, err
	}
	tg, err := enrich.New(enrich.Options{GazetteerDir: t.Gazetteers, Topics: m})
	if err != nil {
		return nil, fmt.Errorf("invalid flag -gazetteers: %w", err)
	}
	return &TaxonomyTagger{Tagger: tg, ids: tax.IDs()}, nil
}

// TaxonomyTagger is an enrich.Tagger that also lists its topic ids, so the
// enricher's per-topic counters start at zero for each.
type TaxonomyTagger struct {
	*enrich.Tagger
	ids []string
}

// Enrich tags one article (see enrich.Tagger.Enrich).
func (t *TaxonomyTagger) Enrich(raw events.RawArticle, now time.Time) events.EnrichedArticle {
	return t.Tagger.Enrich(raw, now)
}

// TopicIDs returns the ids of the taxonomy's topics.
func (t *TaxonomyTagger) TopicIDs() []string { return t.ids }
