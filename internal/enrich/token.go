package enrich

import (
	"unicode"
	"unicode/utf8"
)

// Token shape flags.
const (
	shapeWord   uint8 = 1 << iota // letters or digits (otherwise a single punctuation rune)
	shapeUpper                    // first letter is upper case
	shapeAllCap                   // every letter is upper case and there are at least two letters
	shapeDigit                    // starts with a digit
	shapeLower                    // first letter is lower case
	shapeDots                     // an abbreviation with internal dots (U.S.)
)

// token is one word or punctuation rune of the analysed text. Offsets are
// byte offsets into the text; both fall on rune boundaries.
type token struct {
	start, end int32
	shape      uint8
	// line is set on the first token of a line.
	lineStart bool
}

func (t token) is(f uint8) bool { return t.shape&f != 0 }

// tokenize splits text into word and punctuation tokens, appending to dst.
// A word is a run of letters and digits; a run of single letters joined by
// dots (U.S., D.C., U.S.S.R.) is one word that keeps its final dot.
// Whitespace separates tokens and is not a token.
func tokenize(text string, dst []token) []token {
	newLine := true
	i := 0
	for i < len(text) {
		c := text[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\n':
				newLine = true
				i++
				continue
			case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
				i++
				continue
			case isASCIIAlnum(c):
				j, shape := scanWord(text, i)
				dst = append(dst, token{start: int32(i), end: int32(j), shape: shape, lineStart: newLine})
				newLine = false
				i = j
				continue
			default:
				dst = append(dst, token{start: int32(i), end: int32(i + 1), lineStart: newLine})
				newLine = false
				i++
				continue
			}
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		switch {
		case unicode.IsSpace(r):
			if r == '\u2028' || r == '\u2029' || r == '\u0085' {
				newLine = true
			}
			i += size
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			j, shape := scanWord(text, i)
			dst = append(dst, token{start: int32(i), end: int32(j), shape: shape, lineStart: newLine})
			newLine = false
			i = j
		default:
			dst = append(dst, token{start: int32(i), end: int32(i + size), lineStart: newLine})
			newLine = false
			i += size
		}
	}
	return dst
}

func isASCIIAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// scanWord reads the word starting at i and returns its end and shape.
func scanWord(text string, i int) (int, uint8) {
	// Fast path: an ASCII word not followed by a dot after a single letter.
	j, letters, uppers := i, 0, 0
	for j < len(text) {
		c := text[j]
		switch {
		case c >= 'a' && c <= 'z':
			letters++
		case c >= 'A' && c <= 'Z':
			letters++
			uppers++
		case c >= '0' && c <= '9':
		default:
			goto done
		}
		j++
	}
done:
	if j == len(text) || text[j] < utf8.RuneSelf && !(text[j] == '.' && j-i == 1) {
		shape := shapeWord
		switch c := text[i]; {
		case c >= 'A' && c <= 'Z':
			shape |= shapeUpper
		case c >= 'a' && c <= 'z':
			shape |= shapeLower
		default:
			shape |= shapeDigit
		}
		if letters >= 2 && uppers == letters {
			shape |= shapeAllCap
		}
		return j, shape
	}
	return scanWordSlow(text, i)
}

// scanWordSlow is scanWord for words with non-ASCII letters or dots.
func scanWordSlow(text string, i int) (int, uint8) {
	shape := shapeWord
	letters, uppers := 0, 0
	first := true
	segLen := 0 // letters in the current dot-separated segment
	dots := false
	j := i
	for j < len(text) {
		c := text[j]
		var r rune
		size := 1
		if c < utf8.RuneSelf {
			r = rune(c)
		} else {
			r, size = utf8.DecodeRuneInString(text[j:])
		}
		switch {
		case c < utf8.RuneSelf && isASCIIAlnum(c) || c >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)):
			isLetter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= utf8.RuneSelf && unicode.IsLetter(r)
			isUpper := c >= 'A' && c <= 'Z' || c >= utf8.RuneSelf && unicode.IsUpper(r)
			if first {
				switch {
				case isUpper:
					shape |= shapeUpper
				case isLetter:
					shape |= shapeLower
				default:
					shape |= shapeDigit
				}
				first = false
			}
			if isLetter {
				letters++
				segLen++
				if isUpper {
					uppers++
				}
			} else {
				segLen += 2 // digits never start an abbreviation
			}
			j += size
			continue
		case c == '.' && segLen == 1 && j+1 < len(text) && isLetterAt(text, j+1):
			// U.S -> continue the abbreviation
			dots = true
			segLen = 0
			j++
			continue
		case c == '.' && dots:
			j++ // keep the final dot of U.S.
		}
		break
	}
	if dots {
		shape |= shapeDots
	}
	if letters >= 2 && uppers == letters {
		shape |= shapeAllCap
	}
	return j, shape
}

func isLetterAt(s string, i int) bool {
	c := s[i]
	if c < utf8.RuneSelf {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return unicode.IsLetter(r)
}

// normToken returns the normalised form of a token's text: lower case, with
// typographic apostrophes and dashes folded to ASCII. It writes into buf when
// it must change the text and returns a string that aliases either text or
// buf; callers must not keep it beyond the next call with the same buf.
func normToken(s string, buf []byte) ([]byte, bool) {
	ascii := true
	needs := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
		if c >= 'A' && c <= 'Z' {
			needs = true
		}
	}
	if ascii {
		if !needs {
			return nil, false
		}
		buf = buf[:0]
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			buf = append(buf, c)
		}
		return buf, true
	}
	buf = buf[:0]
	for _, r := range s {
		switch r {
		case '\u2019', '\u2018', '\u02bc', '`', '\u00b4':
			r = '\''
		case '\u2010', '\u2011', '\u2012', '\u2013', '\u2014':
			r = '-'
		default:
			r = unicode.ToLower(r)
		}
		buf = utf8.AppendRune(buf, r)
	}
	return buf, true
}
