// Package enrich is newsflow's tagger: a pure function from a raw article to
// an enriched one. It turns the article's HTML into plain text (title, blank
// line, body), detects the language and, for English text, finds the
// countries, people and organizations the article refers to, each with a
// salience score in [0,1] and every mention as a byte span of the text.
// Topics come from an optional TopicMatcher.
//
// Names come from gazetteers: plain TSV files embedded from data/ (see
// data/README.md for their sources and licences), which a folder of the
// user's files may extend or replace. People who are not in the gazetteer are
// found by rules: titles and roles ("President X"), reporting verbs ("X
// said"), given names, and name-shaped sequences; later mentions by surname
// attach to the full name.
//
// A Tagger is safe for concurrent use and never changes after New. The same
// input always gives the same output.
package enrich

import (
	"fmt"
	"sync"
	"time"

	"github.com/newsflow/newsflow/pkg/events"
)

// Version is the enricher_version stamped on enriched articles when
// Options.Version is empty. It changes whenever tagging output may change.
const Version = "enrich/0.1.0"

// Options configures a Tagger. The zero value uses the embedded gazetteers
// only and finds no topics.
type Options struct {
	// GazetteerDir is an optional folder of user gazetteer files. A file named
	// like an embedded one (countries.tsv, places.tsv, people.tsv,
	// organizations.tsv, given_names.txt, nonnames.txt) replaces it; a file
	// named <stem>.<anything>.<ext> (people.local.tsv) extends it.
	GazetteerDir string
	// Topics finds topics; nil means no topics.
	Topics TopicMatcher
	// Version is the enricher_version to stamp; "" means Version.
	Version string
}

// TopicMatcher finds taxonomy topics in an analysed text. Match gets the
// text (title, blank line, body) and the byte offset where the body starts,
// and returns topics whose evidence spans are byte offsets into text. It must
// be safe for concurrent use and deterministic.
type TopicMatcher interface {
	Match(text string, bodyStart int) []events.Topic
}

// Tagger tags articles. Build it with New; it is immutable and safe for
// concurrent use.
type Tagger struct {
	g       *gazetteer
	topics  TopicMatcher
	version string
	scratch sync.Pool // *scratch, reused buffers for one Enrich call
}

// New loads the gazetteers (embedded, then opts.GazetteerDir) and returns a
// Tagger. The error names the file and line of a malformed gazetteer row.
func New(opts Options) (*Tagger, error) {
	g, err := loadGazetteer(opts.GazetteerDir)
	if err != nil {
		return nil, fmt.Errorf("load gazetteers: %w", err)
	}
	t := &Tagger{g: g, topics: opts.Topics, version: opts.Version}
	if t.version == "" {
		t.version = Version
	}
	t.scratch.New = func() any { return new(scratch) }
	return t, nil
}

// Enrich tags one article. The body is raw.Content, or raw.Summary when the
// content is empty. Text in a language other than English (when detection is
// confident) gets no tags, only its language. Enrich is deterministic: the
// same raw article gives the same result, apart from EnrichedAt = now.
func (t *Tagger) Enrich(raw events.RawArticle, now time.Time) events.EnrichedArticle {
	body := raw.Content
	if body == "" {
		body = raw.Summary
	}
	text, bodyStart := PlainText(raw.Title, body)
	out := events.NewEnriched(raw)
	out.Text = text
	out.EnrichedAt = now
	out.EnricherVersion = t.version
	s := t.scratch.Get().(*scratch)
	defer t.putScratch(s)
	d := t.prepare(s, text, bodyStart)
	lang := d.language()
	if lang == "" {
		lang = raw.Language
	}
	out.Language = lang
	if lang != "" && !isEnglish(lang) {
		return out
	}
	res := t.analyse(d)
	out.Countries = res.countries
	out.People = res.people
	out.Organizations = res.orgs
	if t.topics != nil {
		if tp := t.topics.Match(text, bodyStart); tp != nil {
			out.Topics = tp
		}
	}
	return out
}

// putScratch returns buffers to the pool unless one huge article grew them.
func (t *Tagger) putScratch(s *scratch) {
	if cap(s.toks) > 1<<18 {
		return
	}
	t.scratch.Put(s)
}

// isEnglish reports whether a language tag names English (en, en-GB, EN).
func isEnglish(lang string) bool {
	return len(lang) >= 2 && (lang[0] == 'e' || lang[0] == 'E') && (lang[1] == 'n' || lang[1] == 'N') &&
		(len(lang) == 2 || lang[2] == '-' || lang[2] == '_')
}
