package enrich

import (
	"html"
	"strings"
	"unicode/utf8"
)

// PlainText builds the analysed text of an article: the title, a blank line,
// then the body as plain text. HTML tags, comments, scripts, styles and
// similar non-content elements are removed and entities decoded; block
// elements (p, br, div, li, headings, table rows) become line breaks, and
// runs of spaces collapse to one. A body without markup keeps its line
// structure. Invalid UTF-8 is replaced by U+FFFD. bodyStart is the byte
// offset in text where the body begins (len(title)+2 after cleaning).
func PlainText(title, htmlBody string) (text string, bodyStart int) {
	var b strings.Builder
	b.Grow(len(title) + len(htmlBody) + 2)
	t := cleanInline(title)
	b.WriteString(t)
	b.WriteString("\n\n")
	bodyStart = b.Len()
	writeBody(&b, htmlBody)
	return b.String(), bodyStart
}

// cleanInline turns a title into one line of text.
func cleanInline(s string) string {
	var b strings.Builder
	writeBody(&b, s)
	out := b.String()
	if strings.ContainsAny(out, "\n") {
		out = strings.Join(strings.Fields(out), " ")
	}
	return out
}

// looksLikeHTML reports whether s contains a tag, comment or entity.
func looksLikeHTML(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '<':
			if i+1 < len(s) {
				c := s[i+1]
				if c == '/' || c == '!' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
					return true
				}
			}
		case '&':
			if j := strings.IndexByte(s[i:min(len(s), i+12)], ';'); j > 1 {
				return true
			}
		}
	}
	return false
}

// writeBody appends the plain text of s to b.
func writeBody(b *strings.Builder, s string) {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if !looksLikeHTML(s) {
		writePlain(b, s)
		return
	}
	w := &textWriter{b: b, start: b.Len()}
	i := 0
	for i < len(s) {
		lt := strings.IndexByte(s[i:], '<')
		if lt < 0 {
			w.text(s[i:])
			break
		}
		w.text(s[i : i+lt])
		i += lt
		if strings.HasPrefix(s[i:], "<!--") {
			end := strings.Index(s[i+4:], "-->")
			if end < 0 {
				break
			}
			i += 4 + end + 3
			continue
		}
		if strings.HasPrefix(s[i:], "<![CDATA[") {
			end := strings.Index(s[i+9:], "]]>")
			if end < 0 {
				w.raw(s[i+9:])
				break
			}
			w.raw(s[i+9 : i+9+end])
			i += 9 + end + 3
			continue
		}
		name, closing, end, ok := parseTag(s, i)
		if !ok {
			w.text("<")
			i++
			continue
		}
		i = end
		switch {
		case skipElements[name] && !closing:
			// Drop everything up to the matching end tag.
			j := indexFold(s[i:], "</"+name)
			if j < 0 {
				i = len(s)
				continue
			}
			i += j
			if k := strings.IndexByte(s[i:], '>'); k >= 0 {
				i += k + 1
			} else {
				i = len(s)
			}
		case name == "br":
			w.newline(1)
		case blockElements[name]:
			w.newline(2)
		case name == "td" || name == "th":
			w.space()
		}
	}
}

// parseTag parses the tag starting at s[i] == '<'. It returns the lower-case
// tag name, whether it is an end tag, and the offset after '>'.
func parseTag(s string, i int) (name string, closing bool, end int, ok bool) {
	j := i + 1
	if j < len(s) && s[j] == '/' {
		closing = true
		j++
	}
	if j < len(s) && s[j] == '!' || j < len(s) && s[j] == '?' {
		k := strings.IndexByte(s[j:], '>')
		if k < 0 {
			return "", false, 0, false
		}
		return "!", false, j + k + 1, true
	}
	st := j
	for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9' || s[j] == '-' || s[j] == ':') {
		j++
	}
	if j == st {
		return "", false, 0, false
	}
	name = strings.ToLower(s[st:j])
	// Skip attributes, honouring quotes.
	var quote byte
	for j < len(s) {
		c := s[j]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return name, closing, j + 1, true
		}
		j++
	}
	return "", false, 0, false // no '>': not a tag
}

func indexFold(s, sub string) int {
	n := len(sub)
	for i := 0; i+n <= len(s); i++ {
		if strings.EqualFold(s[i:i+n], sub) {
			return i
		}
	}
	return -1
}

var skipElements = map[string]bool{
	"script": true, "style": true, "noscript": true, "template": true, "head": true,
	"iframe": true, "svg": true, "math": true, "object": true, "title": true, "select": true, "button": true,
}

var blockElements = map[string]bool{
	"p": true, "div": true, "li": true, "ul": true, "ol": true, "dl": true, "dt": true, "dd": true,
	"h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true,
	"blockquote": true, "pre": true, "tr": true, "table": true, "section": true, "article": true,
	"header": true, "footer": true, "figure": true, "figcaption": true, "hr": true, "aside": true,
	"nav": true, "main": true, "address": true, "caption": true,
}

// textWriter accumulates text, collapsing whitespace and limiting blank lines.
type textWriter struct {
	b        *strings.Builder
	start    int
	pendingS bool // a space is due before the next text
	pendingN int  // newlines due before the next text
}

func (w *textWriter) empty() bool { return w.b.Len() == w.start }

func (w *textWriter) newline(n int) {
	if w.empty() {
		return
	}
	w.pendingN = max(w.pendingN, n)
	w.pendingS = false
}

func (w *textWriter) space() {
	if !w.empty() && w.pendingN == 0 {
		w.pendingS = true
	}
}

func (w *textWriter) text(s string) {
	if s == "" {
		return
	}
	if strings.IndexByte(s, '&') >= 0 {
		s = html.UnescapeString(s)
	}
	w.raw(s)
}

// raw writes s with whitespace collapsed: runs of spaces become one space.
func (w *textWriter) raw(s string) {
	i := 0
	for i < len(s) {
		// A run of non-space runes.
		j := i
		for j < len(s) {
			c := s[j]
			if c < utf8.RuneSelf {
				if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' {
					break
				}
				j++
				continue
			}
			r, size := utf8.DecodeRuneInString(s[j:])
			if isSpaceRune(r) {
				break
			}
			j += size
		}
		if j > i {
			if !w.empty() {
				if w.pendingN > 0 {
					w.b.WriteString("\n\n"[:w.pendingN])
				} else if w.pendingS {
					w.b.WriteByte(' ')
				}
			}
			w.pendingN, w.pendingS = 0, false
			w.b.WriteString(s[i:j])
		}
		if j >= len(s) {
			break
		}
		// A run of spaces.
		k := j
		for k < len(s) {
			r, size := utf8.DecodeRuneInString(s[k:])
			if !isSpaceRune(r) {
				break
			}
			k += size
		}
		w.space()
		i = k
	}
}

func isSpaceRune(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '\f', '\v', '\u00a0', '\u2028', '\u2029', '\u3000', '\u202f', '\u2009':
		return true
	}
	return false
}

// writePlain appends a text without markup: line breaks are kept (CR LF
// becomes LF), other control characters become spaces.
func writePlain(b *strings.Builder, s string) {
	clean := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		b.WriteString(strings.TrimSpace(s))
		return
	}
	s = strings.TrimSpace(s)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				continue
			}
			b.WriteByte('\n')
		case c < 0x20 && c != '\n' && c != '\t' || c == 0x7f:
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
}
