// Package events is newsflow's published event contract: the Go types, JSON
// encoding, validation and Kafka message conventions of the two events that flow
// through the pipeline.
//
// A RawArticle is what the fetcher publishes for each new or updated feed item
// (topic newsflow.articles.raw by default). An EnrichedArticle is a RawArticle
// plus the plain text that was analysed and the countries, people,
// organizations and topics found in it (topic newsflow.articles.enriched).
//
// JSON field names are a contract: downstream consumers and newsflow's
// evaluations rely on them. Fields are only ever added within a schema version;
// a change that removes or renames a field bumps SchemaVersion. Decoders accept
// unknown fields, so a consumer built against an older minor shape keeps working.
//
// On Kafka each event is one message: key = article id, value = the JSON
// document, and CloudEvents Kafka binary-mode headers (see Headers).
package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	fastjson "github.com/segmentio/encoding/json"
)

// SchemaVersion is the version of the event shapes defined in this package.
// Every event carries it in schema_version; decoders reject other versions.
const SchemaVersion = 1

// Default Kafka topic names. All are configurable in the services.
const (
	TopicRaw        = "newsflow.articles.raw"
	TopicEnriched   = "newsflow.articles.enriched"
	TopicDeadLetter = "newsflow.articles.dlq"
)

// CloudEvents types of the two events.
const (
	TypeRaw      = "org.newsflow.article.raw.v1"
	TypeEnriched = "org.newsflow.article.enriched.v1"
)

// Errors returned by Decode and Validate. Callers test them with errors.Is.
var (
	// ErrMalformed: the bytes are not a JSON object of the expected shape.
	ErrMalformed = errors.New("malformed event")
	// ErrSchemaVersion: schema_version is missing or not SchemaVersion.
	ErrSchemaVersion = errors.New("unsupported schema_version")
	// ErrInvalid: the event decodes but breaks a rule of the contract.
	ErrInvalid = errors.New("invalid event")
)

// Source identifies the feed an article came from.
type Source struct {
	// FeedURL is the URL of the feed as polled (after permanent redirects).
	FeedURL string `json:"feed_url"`
	// FeedTitle is the feed's own title, or the title given in the feed list.
	FeedTitle string `json:"feed_title,omitempty"`
	// SiteURL is the feed's home page link, when the feed declares one.
	SiteURL string `json:"site_url,omitempty"`
}

// RawArticle is one feed item as the fetcher saw it.
type RawArticle struct {
	SchemaVersion int `json:"schema_version"`
	// ID is stable: the same item in the same feed always gets the same id
	// (see ArticleID). It is the Kafka message key and the storage key.
	ID     string `json:"id"`
	Source Source `json:"source"`
	// GUID is the item's guid (RSS) or id (Atom, JSON Feed), if any.
	GUID string `json:"guid,omitempty"`
	// URL is the item's link.
	URL     string `json:"url,omitempty"`
	Title   string `json:"title"`
	Summary string `json:"summary,omitempty"`
	// Content is the item's body, HTML or text as the feed gave it (or, with
	// full-text extraction on, the extracted article text).
	Content    string   `json:"content,omitempty"`
	Authors    []string `json:"authors"`
	Categories []string `json:"categories"`
	// Language is the language the feed or item declares; it may be empty.
	Language    string    `json:"language"`
	PublishedAt time.Time `json:"published_at,omitzero"`
	// UpdatedAt is set when the item was republished because it changed.
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	FetchedAt time.Time `json:"fetched_at,omitzero"`
}

// Mention is one place in EnrichedArticle.Text that refers to an entity.
// Start and End are byte offsets into Text, End exclusive; Surface is
// Text[Start:End].
type Mention struct {
	Start   int    `json:"start"`
	End     int    `json:"end"`
	Surface string `json:"surface"`
	// Kind says how the entity was referred to. Countries: name, demonym,
	// capital, metonym, place. People and organizations: name, alias,
	// surname, acronym.
	Kind string `json:"kind,omitempty"`
}

// Country is a country the article refers to.
type Country struct {
	// Code is the ISO 3166-1 alpha-2 code (historical states map to their
	// successor: Soviet Union to RU).
	Code string `json:"code"`
	Name string `json:"name"`
	// Score is the salience in [0,1]: 0.5 or more means the article is about
	// the country; below, it is only mentioned.
	Score    float64   `json:"score"`
	Mentions []Mention `json:"mentions"`
	// Note explains a non-obvious mapping, such as a historical state.
	Note string `json:"note,omitempty"`
}

// Entity is a person or an organization the article refers to.
type Entity struct {
	// Name is the canonical full name.
	Name string `json:"name"`
	// Score is the salience in [0,1].
	Score    float64   `json:"score"`
	Mentions []Mention `json:"mentions"`
	// WikidataID is the entity's Wikidata id (Q...), when known.
	WikidataID string `json:"wikidata_id,omitempty"`
}

// Evidence is a span of EnrichedArticle.Text that supports a topic.
type Evidence struct {
	Start   int    `json:"start"`
	End     int    `json:"end"`
	Surface string `json:"surface"`
}

// Topic is a taxonomy topic the article is about.
type Topic struct {
	ID       string     `json:"id"`
	Label    string     `json:"label"`
	Score    float64    `json:"score"`
	Evidence []Evidence `json:"evidence"`
}

// EnrichedArticle is a RawArticle with the result of tagging. Every RawArticle
// field is present at the top level of the JSON document.
type EnrichedArticle struct {
	RawArticle
	// Text is the plain text that was analysed: the title, a blank line, then
	// the body with HTML removed. All offsets refer to it.
	Text string `json:"text"`
	// Language is the detected language (ISO 639-1), or the declared one when
	// detection is not possible. It replaces RawArticle.Language in JSON; the
	// declared language is kept in DeclaredLanguage.
	Language         string `json:"language"`
	DeclaredLanguage string `json:"declared_language,omitempty"`

	Countries       []Country `json:"countries"`
	People          []Entity  `json:"people"`
	Organizations   []Entity  `json:"organizations"`
	Topics          []Topic   `json:"topics"`
	EnrichedAt      time.Time `json:"enriched_at,omitzero"`
	EnricherVersion string    `json:"enricher_version"`
}

// NewEnriched returns an EnrichedArticle carrying raw's fields, with empty
// (non-nil) tag lists.
func NewEnriched(raw RawArticle) EnrichedArticle {
	return EnrichedArticle{
		RawArticle:       raw,
		Language:         raw.Language,
		DeclaredLanguage: raw.Language,
		Countries:        []Country{},
		People:           []Entity{},
		Organizations:    []Entity{},
		Topics:           []Topic{},
	}
}

// MarshalJSON encodes a RawArticle with its schema version set and nil slices
// written as empty arrays.
func (a RawArticle) MarshalJSON() ([]byte, error) {
	p := rawWire(a)
	p.SchemaVersion = SchemaVersion
	if p.Authors == nil {
		p.Authors = []string{}
	}
	if p.Categories == nil {
		p.Categories = []string{}
	}
	return json.Marshal(p)
}

// enrichedWire is the JSON shape of an EnrichedArticle: every RawArticle
// field at the top level, the detected language in "language" and the declared
// one in "declared_language".
type enrichedWire struct {
	rawWire
	Text             string    `json:"text"`
	Language         string    `json:"language"`
	DeclaredLanguage string    `json:"declared_language,omitempty"`
	Countries        []Country `json:"countries"`
	People           []Entity  `json:"people"`
	Organizations    []Entity  `json:"organizations"`
	Topics           []Topic   `json:"topics"`
	EnrichedAt       time.Time `json:"enriched_at,omitzero"`
	EnricherVersion  string    `json:"enricher_version"`
}

// rawWire is RawArticle without its JSON methods.
type rawWire RawArticle

func (w *enrichedWire) article() EnrichedArticle {
	a := EnrichedArticle{
		RawArticle:       RawArticle(w.rawWire),
		Text:             w.Text,
		Language:         w.Language,
		DeclaredLanguage: w.DeclaredLanguage,
		Countries:        w.Countries,
		People:           w.People,
		Organizations:    w.Organizations,
		Topics:           w.Topics,
		EnrichedAt:       w.EnrichedAt,
		EnricherVersion:  w.EnricherVersion,
	}
	a.RawArticle.Language = w.DeclaredLanguage
	return a
}

// MarshalJSON encodes an EnrichedArticle with every RawArticle field at the top
// level, its schema version set, and nil slices written as empty arrays.
func (a EnrichedArticle) MarshalJSON() ([]byte, error) {
	f := enrichedWire{
		rawWire:          rawWire(a.RawArticle),
		Text:             a.Text,
		Language:         a.Language,
		DeclaredLanguage: a.DeclaredLanguage,
		Countries:        nonNil(a.Countries),
		People:           nonNil(a.People),
		Organizations:    nonNil(a.Organizations),
		Topics:           nonNil(a.Topics),
		EnrichedAt:       a.EnrichedAt,
		EnricherVersion:  a.EnricherVersion,
	}
	f.SchemaVersion = SchemaVersion
	if f.Authors == nil {
		f.Authors = []string{}
	}
	if f.Categories == nil {
		f.Categories = []string{}
	}
	for i := range f.Countries {
		f.Countries[i].Mentions = nonNil(f.Countries[i].Mentions)
	}
	for _, es := range [][]Entity{f.People, f.Organizations} {
		for i := range es {
			es[i].Mentions = nonNil(es[i].Mentions)
		}
	}
	for i := range f.Topics {
		f.Topics[i].Evidence = nonNil(f.Topics[i].Evidence)
	}
	return json.Marshal(f)
}

// UnmarshalJSON decodes an EnrichedArticle, placing the RawArticle fields in
// the embedded struct and the detected language in Language.
func (a *EnrichedArticle) UnmarshalJSON(b []byte) error {
	var w enrichedWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*a = w.article()
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// DecodeRaw decodes and validates a RawArticle. The error wraps ErrMalformed,
// ErrSchemaVersion or ErrInvalid.
func DecodeRaw(b []byte) (RawArticle, error) {
	a, err := decode[RawArticle](b)
	if err != nil {
		return RawArticle{}, err
	}
	if err := a.Validate(); err != nil {
		return RawArticle{}, err
	}
	return a, nil
}

// DecodeEnriched decodes and validates an EnrichedArticle. The error wraps
// ErrMalformed, ErrSchemaVersion or ErrInvalid.
func DecodeEnriched(b []byte) (EnrichedArticle, error) {
	// Decoding into the wire struct, not through UnmarshalJSON, spares the
	// decoder a second validation and a skip of the whole message.
	w, err := decode[enrichedWire](b)
	if err != nil {
		return EnrichedArticle{}, err
	}
	a := w.article()
	if err := a.Validate(); err != nil {
		return EnrichedArticle{}, err
	}
	return a, nil
}

// decode decodes b, a JSON object, in one pass; only when that fails does it
// look at schema_version alone, so that a document of another version is
// reported as such rather than as malformed. The version of a decoded
// document is checked by Validate.
//
// github.com/segmentio/encoding/json decodes about twice as fast as
// encoding/json and to the same value for valid UTF-8 (FuzzDecodeAgrees holds
// it to that); encoding/json, which reads invalid UTF-8 as U+FFFD, decodes
// everything else and has the last word on every failure.
func decode[T any](b []byte) (T, error) {
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		var zero T
		return zero, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	if utf8.Valid(b) {
		var v T
		if fastjson.Unmarshal(b, &v) == nil {
			return v, nil
		}
	}
	var v T
	err := json.Unmarshal(b, &v)
	if err == nil {
		return v, nil
	}
	var probe struct {
		SchemaVersion *int `json:"schema_version"`
	}
	if json.Unmarshal(b, &probe) == nil && probe.SchemaVersion != nil && *probe.SchemaVersion != SchemaVersion {
		return v, fmt.Errorf("%w: got %d, want %d", ErrSchemaVersion, *probe.SchemaVersion, SchemaVersion)
	}
	return v, fmt.Errorf("%w: %v", ErrMalformed, err)
}

// Validate reports whether a satisfies the contract: schema version, a
// non-empty id and feed URL, and a fetch time. The error wraps ErrInvalid or
// ErrSchemaVersion.
func (a RawArticle) Validate() error {
	switch {
	case a.SchemaVersion != SchemaVersion:
		return fmt.Errorf("%w: got %d, want %d", ErrSchemaVersion, a.SchemaVersion, SchemaVersion)
	case a.ID == "":
		return fmt.Errorf("%w: id is empty", ErrInvalid)
	case len(a.ID) > 256:
		return fmt.Errorf("%w: id longer than 256 bytes", ErrInvalid)
	case a.Source.FeedURL == "":
		return fmt.Errorf("%w: source.feed_url is empty", ErrInvalid)
	case a.FetchedAt.IsZero():
		return fmt.Errorf("%w: fetched_at is missing", ErrInvalid)
	}
	return nil
}

// Validate reports whether a satisfies the contract: the RawArticle rules,
// then every tag's score in [0,1], country codes of two upper-case letters, and
// every mention or evidence span inside Text with Surface equal to the span.
func (a EnrichedArticle) Validate() error {
	if err := a.RawArticle.Validate(); err != nil {
		return err
	}
	if a.EnricherVersion == "" {
		return fmt.Errorf("%w: enricher_version is empty", ErrInvalid)
	}
	for _, c := range a.Countries {
		if len(c.Code) != 2 || c.Code[0] < 'A' || c.Code[0] > 'Z' || c.Code[1] < 'A' || c.Code[1] > 'Z' {
			return fmt.Errorf("%w: country code %q is not ISO 3166-1 alpha-2", ErrInvalid, c.Code)
		}
		if err := a.checkTag("country "+c.Code, c.Score, c.Mentions); err != nil {
			return err
		}
	}
	for _, e := range a.People {
		if err := a.checkTag("person "+e.Name, e.Score, e.Mentions); err != nil {
			return err
		}
	}
	for _, e := range a.Organizations {
		if err := a.checkTag("organization "+e.Name, e.Score, e.Mentions); err != nil {
			return err
		}
	}
	for _, t := range a.Topics {
		if t.ID == "" {
			return fmt.Errorf("%w: topic with empty id", ErrInvalid)
		}
		ms := make([]Mention, len(t.Evidence))
		for i, e := range t.Evidence {
			ms[i] = Mention{Start: e.Start, End: e.End, Surface: e.Surface}
		}
		if err := a.checkTag("topic "+t.ID, t.Score, ms); err != nil {
			return err
		}
	}
	return nil
}

func (a EnrichedArticle) checkTag(what string, score float64, ms []Mention) error {
	if score < 0 || score > 1 || score != score {
		return fmt.Errorf("%w: %s: score %v outside [0,1]", ErrInvalid, what, score)
	}
	for _, m := range ms {
		if m.Start < 0 || m.End < m.Start || m.End > len(a.Text) {
			return fmt.Errorf("%w: %s: span [%d,%d) outside text of %d bytes", ErrInvalid, what, m.Start, m.End, len(a.Text))
		}
		if a.Text[m.Start:m.End] != m.Surface {
			return fmt.Errorf("%w: %s: surface %q does not match text[%d:%d]", ErrInvalid, what, m.Surface, m.Start, m.End)
		}
	}
	return nil
}
