package enrich

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/newsflow/newsflow/pkg/events"
)

// AppendJSON appends the JSON encoding of a to dst: exactly the bytes of
// a.MarshalJSON(), written without reflection (the offline tag mode spends
// much of its time encoding). For values the fast path does not cover (a
// time outside years 0-9999, a score below 1e-6) it falls back to
// a.MarshalJSON; the error is MarshalJSON's.
func AppendJSON(dst []byte, a *events.EnrichedArticle) ([]byte, error) {
	if !fastJSONOK(a) {
		b, err := a.MarshalJSON()
		if err != nil {
			return dst, err
		}
		return append(dst, b...), nil
	}
	b := append(dst, `{"schema_version":`...)
	b = strconv.AppendInt(b, events.SchemaVersion, 10)
	b = append(b, `,"id":`...)
	b = appendString(b, a.ID)
	b = append(b, `,"source":{"feed_url":`...)
	b = appendString(b, a.Source.FeedURL)
	if a.Source.FeedTitle != "" {
		b = append(b, `,"feed_title":`...)
		b = appendString(b, a.Source.FeedTitle)
	}
	if a.Source.SiteURL != "" {
		b = append(b, `,"site_url":`...)
		b = appendString(b, a.Source.SiteURL)
	}
	b = append(b, '}')
	if a.GUID != "" {
		b = append(b, `,"guid":`...)
		b = appendString(b, a.GUID)
	}
	if a.URL != "" {
		b = append(b, `,"url":`...)
		b = appendString(b, a.URL)
	}
	b = append(b, `,"title":`...)
	b = appendString(b, a.Title)
	if a.Summary != "" {
		b = append(b, `,"summary":`...)
		b = appendString(b, a.Summary)
	}
	if a.Content != "" {
		b = append(b, `,"content":`...)
		b = appendString(b, a.Content)
	}
	b = append(b, `,"authors":`...)
	b = appendStrings(b, a.Authors)
	b = append(b, `,"categories":`...)
	b = appendStrings(b, a.Categories)
	b = appendTime(b, `,"published_at":`, a.PublishedAt)
	b = appendTime(b, `,"updated_at":`, a.UpdatedAt)
	b = appendTime(b, `,"fetched_at":`, a.FetchedAt)
	b = append(b, `,"text":`...)
	b = appendString(b, a.Text)
	b = append(b, `,"language":`...)
	b = appendString(b, a.Language)
	if a.DeclaredLanguage != "" {
		b = append(b, `,"declared_language":`...)
		b = appendString(b, a.DeclaredLanguage)
	}
	b = append(b, `,"countries":[`...)
	for i, c := range a.Countries {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"code":`...)
		b = appendString(b, c.Code)
		b = append(b, `,"name":`...)
		b = appendString(b, c.Name)
		b = append(b, `,"score":`...)
		b = strconv.AppendFloat(b, c.Score, 'f', -1, 64)
		b = append(b, `,"mentions":`...)
		b = appendMentions(b, c.Mentions)
		if c.Note != "" {
			b = append(b, `,"note":`...)
			b = appendString(b, c.Note)
		}
		b = append(b, '}')
	}
	b = append(b, `],"people":`...)
	b = appendEntities(b, a.People)
	b = append(b, `,"organizations":`...)
	b = appendEntities(b, a.Organizations)
	b = append(b, `,"topics":[`...)
	for i, t := range a.Topics {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = appendString(b, t.ID)
		b = append(b, `,"label":`...)
		b = appendString(b, t.Label)
		b = append(b, `,"score":`...)
		b = strconv.AppendFloat(b, t.Score, 'f', -1, 64)
		b = append(b, `,"evidence":[`...)
		for j, e := range t.Evidence {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"start":`...)
			b = strconv.AppendInt(b, int64(e.Start), 10)
			b = append(b, `,"end":`...)
			b = strconv.AppendInt(b, int64(e.End), 10)
			b = append(b, `,"surface":`...)
			b = appendString(b, e.Surface)
			b = append(b, '}')
		}
		b = append(b, "]}"...)
	}
	b = append(b, ']')
	b = appendTime(b, `,"enriched_at":`, a.EnrichedAt)
	b = append(b, `,"enricher_version":`...)
	b = appendString(b, a.EnricherVersion)
	b = append(b, '}')
	return b, nil
}

// fastJSONOK reports whether AppendJSON's fast path encodes a exactly.
func fastJSONOK(a *events.EnrichedArticle) bool {
	for _, t := range []time.Time{a.PublishedAt, a.UpdatedAt, a.FetchedAt, a.EnrichedAt} {
		if !t.IsZero() && (t.Year() < 0 || t.Year() > 9999) {
			return false
		}
	}
	ok := func(f float64) bool { return f == 0 || f >= 1e-6 && f < 1e21 }
	for _, c := range a.Countries {
		if !ok(c.Score) {
			return false
		}
	}
	for _, es := range [][]events.Entity{a.People, a.Organizations} {
		for _, e := range es {
			if !ok(e.Score) {
				return false
			}
		}
	}
	for _, t := range a.Topics {
		if !ok(t.Score) {
			return false
		}
	}
	return true
}

func appendEntities(b []byte, es []events.Entity) []byte {
	b = append(b, '[')
	for i, e := range es {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendString(b, e.Name)
		b = append(b, `,"score":`...)
		b = strconv.AppendFloat(b, e.Score, 'f', -1, 64)
		b = append(b, `,"mentions":`...)
		b = appendMentions(b, e.Mentions)
		if e.WikidataID != "" {
			b = append(b, `,"wikidata_id":`...)
			b = appendString(b, e.WikidataID)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendMentions(b []byte, ms []events.Mention) []byte {
	b = append(b, '[')
	for i, m := range ms {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"start":`...)
		b = strconv.AppendInt(b, int64(m.Start), 10)
		b = append(b, `,"end":`...)
		b = strconv.AppendInt(b, int64(m.End), 10)
		b = append(b, `,"surface":`...)
		b = appendString(b, m.Surface)
		if m.Kind != "" {
			b = append(b, `,"kind":`...)
			b = appendString(b, m.Kind)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendTime writes key and t as encoding/json does (RFC 3339 with
// nanoseconds), or nothing for the zero time (omitzero).
func appendTime(b []byte, key string, t time.Time) []byte {
	if t.IsZero() {
		return b
	}
	b = append(b, key...)
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string the way encoding/json does: HTML
// characters, U+2028 and U+2029 escaped, invalid UTF-8 replaced by U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
