package feed

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mmcdole/gofeed"
	"github.com/mmcdole/gofeed/rss"
	"golang.org/x/net/html/charset"

	"github.com/newsflow/newsflow/pkg/events"
)

// Parsed is a feed document turned into articles, with the scheduling hints
// the document carries.
type Parsed struct {
	Title    string
	SiteURL  string
	Language string
	// Items are in document order; each has ID, GUID, URL, Title, Summary,
	// Content, Authors, Categories, Language and PublishedAt set (Source and
	// FetchedAt are the caller's).
	Items []Item
	// TTL is the RSS <ttl> or the sy:updatePeriod/updateFrequency period, 0
	// when the feed gives none.
	TTL time.Duration
}

// Item is one article of a Parsed feed with what dedupe needs.
type Item struct {
	Article events.RawArticle
	// Updated is the item's own updated date, if any.
	Updated time.Time
	// Hash is a digest of the item's content as the feed gave it.
	Hash string
}

// Parse decodes a feed body (RSS 0.9x–2.0, RDF, Atom 0.3/1.0 or JSON Feed) in
// any encoding that the document or contentType declares. idURL is the URL
// article ids are derived from (the feed's listed URL). A body that is no
// feed (an HTML page, say) fails with ErrNotAFeed; a feed that does not
// parse fails with another error.
func Parse(body []byte, contentType, idURL string) (*Parsed, error) {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	if err := checkDepth(body); err != nil {
		return nil, fmt.Errorf("parse feed: %w", err)
	}
	r, err := decodeCharset(body, contentType)
	if err != nil {
		return nil, fmt.Errorf("parse feed: %w", err)
	}
	fp := gofeed.NewParser()
	fp.KeepOriginalFeed = true // for RSS <ttl>
	// We publish no item image; the scan would HTML-parse every item.
	fp.RSSTranslator = &gofeed.DefaultRSSTranslator{DisableContentImageScan: true}
	f, err := fp.Parse(r)
	if err != nil {
		if errors.Is(err, gofeed.ErrFeedTypeNotDetected) {
			return nil, fmt.Errorf("parse feed: %w (%s)", ErrNotAFeed, sniff(body))
		}
		return nil, fmt.Errorf("parse feed: %w", err)
	}
	// gofeed takes any JSON object for a JSON Feed: an API's error document
	// ({"error": ...}) would pass as a healthy empty feed.
	if f.FeedType == "json" && !strings.Contains(f.FeedVersion, "jsonfeed.org/version/") && f.Title == "" && len(f.Items) == 0 {
		return nil, fmt.Errorf("parse feed: %w (JSON, not a JSON Feed)", ErrNotAFeed)
	}
	return convert(f, idURL), nil
}

// maxDepth bounds XML nesting: feeds nest a few levels, and a parser's
// memory grows with depth far faster than with size.
const maxDepth = 256

// checkDepth fails when an XML body nests elements deeper than maxDepth. It
// reads tokens without building anything; a body that is not XML, or that
// the scan cannot read, is left to the parser.
func checkDepth(body []byte) error {
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '<' {
		return nil
	}
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = false
	d.CharsetReader = charset.NewReaderLabel
	depth := 0
	for {
		tok, err := d.RawToken()
		if err != nil {
			return nil
		}
		switch tok.(type) {
		case xml.StartElement:
			if depth++; depth > maxDepth {
				return fmt.Errorf("XML nested deeper than %d elements", maxDepth)
			}
		case xml.EndElement:
			depth--
		}
	}
}

// sniff names what a non-feed body looks like, for the error message.
func sniff(body []byte) string {
	head := bytes.ToLower(body[:min(len(body), 512)])
	switch {
	case bytes.Contains(head, []byte("<html")), bytes.Contains(head, []byte("<!doctype html")):
		return "an HTML page"
	case len(bytes.TrimSpace(body)) == 0:
		return "an empty body"
	}
	return "unknown format"
}

var xmlEncodingDecl = regexp.MustCompile(`^\s*<\?xml[^>]*encoding\s*=\s*["']([^"']+)["']`)

// decodeCharset returns body as UTF-8 for the XML and JSON parsers. An XML
// declaration's encoding is left to the XML decoder; otherwise the
// Content-Type charset is applied, and invalid UTF-8 without any
// declaration is read as windows-1252, the usual culprit.
func decodeCharset(body []byte, contentType string) (io.Reader, error) {
	if m := xmlEncodingDecl.FindSubmatch(body[:min(len(body), 256)]); m != nil {
		// The XML decoder applies the declared encoding; a document that
		// says UTF-8 but holds invalid bytes would fail whole, so those
		// bytes become U+FFFD.
		if _, name := charset.Lookup(string(m[1])); name == "utf-8" {
			return bytes.NewReader(validUTF8(body)), nil
		}
		return bytes.NewReader(body), nil
	}
	label := ""
	if _, params, err := mime.ParseMediaType(contentType); err == nil {
		label = strings.TrimSpace(params["charset"])
	}
	if label == "" {
		if utf8.Valid(body) {
			return bytes.NewReader(body), nil
		}
		label = "windows-1252"
	}
	enc, name := charset.Lookup(label)
	if enc == nil {
		return nil, fmt.Errorf("unknown charset %q", label)
	}
	if name == "utf-8" {
		return bytes.NewReader(validUTF8(body)), nil
	}
	return enc.NewDecoder().Reader(bytes.NewReader(body)), nil
}

// validUTF8 returns body with each run of invalid UTF-8 bytes replaced by
// U+FFFD (body itself when it is valid).
func validUTF8(body []byte) []byte {
	if utf8.Valid(body) {
		return body
	}
	return bytes.ToValidUTF8(body, []byte("\uFFFD"))
}

func convert(f *gofeed.Feed, idURL string) *Parsed {
	p := &Parsed{
		Title:    strings.TrimSpace(f.Title),
		SiteURL:  strings.TrimSpace(f.Link),
		Language: strings.TrimSpace(f.Language),
		TTL:      feedTTL(f),
	}
	seen := make(map[string]bool, len(f.Items))
	for _, it := range f.Items {
		if it == nil {
			continue
		}
		var published, updated time.Time
		if it.PublishedParsed != nil {
			published = it.PublishedParsed.UTC()
		}
		if it.UpdatedParsed != nil {
			updated = it.UpdatedParsed.UTC()
		}
		if published.IsZero() {
			published = updated
		}
		link := strings.TrimSpace(it.Link)
		title := strings.TrimSpace(it.Title)
		guid := strings.TrimSpace(it.GUID)
		if guid == "" && link == "" && title == "" {
			continue // nothing to identify or show
		}
		id := events.ArticleID(idURL, guid, link, title, published)
		if seen[id] {
			continue
		}
		seen[id] = true
		a := events.RawArticle{
			SchemaVersion: events.SchemaVersion,
			ID:            id,
			GUID:          guid,
			URL:           link,
			Title:         title,
			Summary:       strings.TrimSpace(it.Description),
			Content:       strings.TrimSpace(it.Content),
			Authors:       authors(it),
			Categories:    categories(it.Categories),
			Language:      p.Language,
			PublishedAt:   published,
		}
		if it.DublinCoreExt != nil && len(it.DublinCoreExt.Language) > 0 {
			a.Language = strings.TrimSpace(it.DublinCoreExt.Language[0])
		}
		if a.Summary == a.Content {
			a.Summary = ""
		}
		p.Items = append(p.Items, Item{Article: a, Updated: updated, Hash: contentHash(a)})
	}
	return p
}

func authors(it *gofeed.Item) []string {
	var out []string
	for _, a := range it.Authors {
		if a == nil {
			continue
		}
		if n := firstNonEmpty(a.Name, a.Email); n != "" && !contains(out, n) {
			out = append(out, n)
		}
	}
	if len(out) == 0 && it.DublinCoreExt != nil {
		for _, c := range it.DublinCoreExt.Creator {
			if c = strings.TrimSpace(c); c != "" && !contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

func categories(cs []string) []string {
	var out []string
	for _, c := range cs {
		if c = strings.TrimSpace(c); c != "" && !contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// contentHash digests what a reader sees of an item, so that an edit is
// noticed even without an updated date. The link is normalised first, so
// rotating tracking parameters are no edit.
func contentHash(a events.RawArticle) string {
	h := sha256.New()
	for _, s := range []string{a.Title, events.NormalizeLink(a.URL), a.Summary, a.Content} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// feedTTL reads RSS <ttl> (minutes) and the syndication module's
// updatePeriod/updateFrequency.
func feedTTL(f *gofeed.Feed) time.Duration {
	if rf, ok := f.OriginalFeed().(*rss.Feed); ok && rf != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(rf.TTL)); err == nil && n > 0 {
			return time.Duration(n) * time.Minute
		}
	}
	sy, ok := f.Extensions["sy"]
	if !ok {
		return 0
	}
	var period time.Duration
	if es := sy["updatePeriod"]; len(es) > 0 {
		switch strings.ToLower(strings.TrimSpace(es[0].Value)) {
		case "hourly":
			period = time.Hour
		case "daily":
			period = 24 * time.Hour
		case "weekly":
			period = 7 * 24 * time.Hour
		case "monthly":
			period = 30 * 24 * time.Hour
		case "yearly":
			period = 365 * 24 * time.Hour
		}
	}
	if period == 0 {
		return 0
	}
	freq := 1
	if es := sy["updateFrequency"]; len(es) > 0 {
		if n, err := strconv.Atoi(strings.TrimSpace(es[0].Value)); err == nil && n > 0 {
			freq = n
		}
	}
	return period / time.Duration(freq)
}
