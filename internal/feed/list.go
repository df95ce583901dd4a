package feed

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Source is one feed of the feed list.
type Source struct {
	// URL is the feed's address as listed (http, https or file). It is the
	// feed's identity: its state and seen items are kept under it.
	URL string `yaml:"url"`
	// Title overrides the feed's own title when set.
	Title string `yaml:"title,omitempty"`
	// Interval overrides the default poll interval when positive.
	Interval time.Duration `yaml:"interval,omitempty"`
	// Tags are free labels (kept in the list, exported to OPML categories).
	Tags []string `yaml:"tags,omitempty"`
	// FullText turns full-text extraction on or off for this feed; nil
	// follows the global setting.
	FullText *bool `yaml:"full_text,omitempty"`
	// Headers are extra request headers (for example an API key).
	Headers map[string]string `yaml:"headers,omitempty"`
}

// List is a parsed feed list.
type List struct {
	Title string   `yaml:"title,omitempty"`
	Feeds []Source `yaml:"feeds"`
}

// ErrBadList is wrapped by every feed-list error.
var ErrBadList = errors.New("bad feed list")

// LoadList reads the feed list at path: YAML when the file name ends in
// .yaml or .yml, otherwise OPML. URLs are validated and put in canonical form
// (lower-case scheme and host, no fragment), and duplicated URLs are merged
// (the first entry wins).
func LoadList(path string) (List, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return List{}, fmt.Errorf("read feed list: %w", err)
	}
	return ParseList(filepath.Ext(path), b)
}

// ParseList parses a feed list given its file extension (".yaml", ".yml" or
// anything else for OPML).
func ParseList(ext string, b []byte) (List, error) {
	var l List
	var err error
	switch strings.ToLower(ext) {
	case ".yaml", ".yml":
		l, err = parseYAML(b)
	default:
		l, err = parseOPML(b)
	}
	if err != nil {
		return List{}, err
	}
	seen := make(map[string]bool, len(l.Feeds))
	out := l.Feeds[:0]
	for i, s := range l.Feeds {
		s.URL = strings.TrimSpace(s.URL)
		if err := checkFeedURL(s.URL); err != nil {
			return List{}, fmt.Errorf("%w: feed %d: %v", ErrBadList, i+1, err)
		}
		if s.Interval < 0 {
			return List{}, fmt.Errorf("%w: feed %s: negative interval", ErrBadList, s.URL)
		}
		// The canonical form is the feed's identity (state, article ids).
		s.URL = listKey(s.URL)
		if seen[s.URL] {
			continue
		}
		seen[s.URL] = true
		out = append(out, s)
	}
	l.Feeds = out
	return l, nil
}

// listKey is the canonical form of a listed URL: two URLs with the same
// key are the same feed.
func listKey(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	p.Scheme = strings.ToLower(p.Scheme)
	p.Host = strings.ToLower(p.Host)
	p.Fragment = ""
	return p.String()
}

func checkFeedURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("url %q: %v", raw, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		if u.Host == "" {
			return fmt.Errorf("url %q: no host", raw)
		}
	case "file":
		if u.Path == "" || (u.Host != "" && u.Host != "localhost") {
			return fmt.Errorf("url %q: a file URL needs an absolute path (file:///path/to/feed.xml)", raw)
		}
	default:
		return fmt.Errorf("url %q: scheme must be http, https or file", raw)
	}
	return nil
}

func parseYAML(b []byte) (List, error) {
	var l List
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&l); err != nil && !errors.Is(err, io.EOF) {
		return List{}, fmt.Errorf("%w: yaml: %v", ErrBadList, err)
	}
	return l, nil
}

// opml is the subset of OPML 1.0/2.0 that feed readers exchange.
type opml struct {
	XMLName xml.Name `xml:"opml"`
	Version string   `xml:"version,attr"`
	Head    struct {
		Title       string `xml:"title,omitempty"`
		DateCreated string `xml:"dateCreated,omitempty"`
	} `xml:"head"`
	Body struct {
		Outlines []outline `xml:"outline"`
	} `xml:"body"`
}

type outline struct {
	Text     string    `xml:"text,attr"`
	Title    string    `xml:"title,attr,omitempty"`
	Type     string    `xml:"type,attr,omitempty"`
	XMLURL   string    `xml:"xmlUrl,attr,omitempty"`
	HTMLURL  string    `xml:"htmlUrl,attr,omitempty"`
	Category string    `xml:"category,attr,omitempty"`
	Outlines []outline `xml:"outline"`
}

func parseOPML(b []byte) (List, error) {
	var doc opml
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = false
	if err := dec.Decode(&doc); err != nil {
		return List{}, fmt.Errorf("%w: opml: %v", ErrBadList, err)
	}
	l := List{Title: strings.TrimSpace(doc.Head.Title)}
	var walk func(os []outline, parents []string)
	walk = func(os []outline, parents []string) {
		for _, o := range os {
			if o.XMLURL != "" {
				s := Source{URL: o.XMLURL, Title: firstNonEmpty(o.Title, o.Text)}
				s.Tags = append(s.Tags, parents...)
				for _, c := range strings.Split(o.Category, ",") {
					if c = strings.Trim(strings.TrimSpace(c), "/"); c != "" && !contains(s.Tags, c) {
						s.Tags = append(s.Tags, c)
					}
				}
				l.Feeds = append(l.Feeds, s)
			}
			if len(o.Outlines) > 0 {
				p := parents
				if name := firstNonEmpty(o.Title, o.Text); name != "" && o.XMLURL == "" {
					p = append(append([]string(nil), parents...), name)
				}
				walk(o.Outlines, p)
			}
		}
	}
	walk(doc.Body.Outlines, nil)
	return l, nil
}

// WriteOPML writes l as an OPML 2.0 document; each feed's tags become its
// category attribute.
func WriteOPML(w io.Writer, l List) error {
	var doc opml
	doc.Version = "2.0"
	doc.Head.Title = firstNonEmpty(l.Title, "newsflow feeds")
	doc.Head.DateCreated = time.Now().UTC().Format(time.RFC1123Z)
	for _, s := range l.Feeds {
		o := outline{Text: firstNonEmpty(s.Title, s.URL), Title: s.Title, Type: "rss", XMLURL: s.URL}
		o.Category = strings.Join(s.Tags, ",")
		doc.Body.Outlines = append(doc.Body.Outlines, o)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("write opml: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write opml: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("write opml: %w", err)
	}
	return nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
