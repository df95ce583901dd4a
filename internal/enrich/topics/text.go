package topics

import (
	"unicode"
	"unicode/utf8"
)

// A word is a maximal run of letters and digits. Everything else separates
// words: spaces, punctuation, apostrophes and hyphens ("U.S.-supplied" is the
// three words u, s, supplied; "Korea’s" is korea, s). Cue phrases are split
// with the same rule, so a cue written "anti-aircraft" matches the text
// "anti-aircraft" and "anti aircraft".

// scanner walks text and reports each word with its byte span, its lower-cased
// form and the sentence it belongs to. It allocates nothing once its buffer
// has grown to the longest word.
type scanner struct {
	text  string
	pos   int
	sent  int32
	lower []byte
	buf   [64]byte // holds lower for ASCII words of up to 64 bytes
	// A sentence ends at a line break, or at a '.', '!' or '?' followed by
	// white space and a word starting with an upper-case letter or a digit
	// ("1.6 million" and "U.S. pushing" do not end one).
	dot, dotSpace, newline bool
}

// next returns the next word's span and lower-cased form (valid until the
// next call), and false at the end of the text.
func (s *scanner) next() (start, end int, lower []byte, ok bool) {
	t := s.text
	i := s.pos
	for i < len(t) {
		c := t[i]
		if c < utf8.RuneSelf {
			if asciiLower[c] != 0 {
				break
			}
			switch c {
			case '.', '!', '?':
				s.dot, s.dotSpace = true, false
			case '\n':
				s.newline = true
			case ' ', '\t', '\r':
				s.dotSpace = s.dot
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(t[i:])
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			break
		}
		if unicode.IsSpace(r) {
			s.dotSpace = s.dot
		}
		i += size
	}
	if i >= len(t) {
		s.pos = i
		return 0, 0, nil, false
	}
	start = i
	first := t[i]
	if s.newline || (s.dot && s.dotSpace && (first >= 'A' && first <= 'Z' || first >= '0' && first <= '9' || first >= utf8.RuneSelf)) {
		if s.pos > 0 {
			s.sent++
		}
	}
	s.dot, s.dotSpace, s.newline = false, false, false
	// Fast path: an ASCII word of up to len(buf) bytes, lower-cased in the
	// same pass that finds its end.
	j, n := i, 0
	for j < len(t) {
		l := asciiLower[t[j]]
		if l == 0 {
			break
		}
		if n < len(s.buf) {
			s.buf[n] = l
		}
		n++
		j++
	}
	if (j == len(t) || t[j] < utf8.RuneSelf) && n <= len(s.buf) {
		s.pos = j
		return start, j, s.buf[:n], true
	}
	s.lower = s.lower[:0]
	for i < len(t) {
		c := t[i]
		if c < utf8.RuneSelf {
			l := asciiLower[c]
			if l == 0 {
				break
			}
			s.lower = append(s.lower, l)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(t[i:])
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			break
		}
		s.lower = utf8.AppendRune(s.lower, unicode.ToLower(r))
		i += size
	}
	s.pos = i
	return start, i, s.lower, true
}

// asciiLower maps ASCII letters and digits to their lower case, every other
// byte (including every byte of a multi-byte UTF-8 sequence) to 0.
var asciiLower = func() (t [256]byte) {
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c
	}
	for c := byte('a'); c <= 'z'; c++ {
		t[c] = c
		t[c-'a'+'A'] = c
	}
	return t
}()

func isASCIIWord(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// splitWords returns the lower-cased words of a cue phrase, split the same way
// as article text. A word written with a leading '=' is kept as an exact
// form: the '=' is returned as the word's first byte.
func splitWords(phrase string) []string {
	var out []string
	i := 0
	for i < len(phrase) {
		exact := false
		if phrase[i] == '=' && i+1 < len(phrase) && (i == 0 || !isWordByte(phrase, i-1)) {
			exact = true
			i++
		}
		s := scanner{text: phrase, pos: i}
		start, end, lower, ok := s.next()
		if !ok {
			break
		}
		// An '=' applies only to the word that immediately follows it.
		if exact && start != i {
			exact = false
		}
		w := string(lower)
		if exact {
			w = "=" + w
		}
		out = append(out, w)
		i = end
	}
	return out
}

func isWordByte(s string, i int) bool {
	c := s[i]
	return c >= utf8.RuneSelf || isASCIIWord(c)
}

// irregular maps irregular inflections of cue verbs and nouns to their base
// form, which is then stemmed like any other word.
var irregular = map[string]string{
	"sold": "sell", "bought": "buy", "fought": "fight", "fled": "flee", "shot": "shoot",
	"sent": "send", "held": "hold", "struck": "strike", "won": "win", "lost": "lose",
	"met": "meet", "took": "take", "taken": "take", "gave": "give", "given": "give",
	"seized": "seize", "stole": "steal", "stolen": "steal", "spoke": "speak", "spoken": "speak",
	"led": "lead", "broke": "break", "broken": "break", "froze": "freeze", "frozen": "freeze",
	"overthrew": "overthrow", "overthrown": "overthrow", "children": "child", "men": "man",
	"women": "woman", "people": "people", "dead": "dead", "died": "die", "dies": "die",
	"dying": "die", "hit": "hit", "wounded": "wound", "bombed": "bomb", "quit": "quit",
	"swept": "sweep", "rose": "rise", "risen": "rise", "fell": "fall", "fallen": "fall",
	"drove": "drive", "driven": "drive", "shook": "shake", "shaken": "shake", "forbade": "forbid",
	"forbidden": "forbid", "arose": "arise", "flew": "fly", "flown": "fly", "built": "build",
	"rebuilt": "rebuild", "paid": "pay", "brought": "bring", "caught": "catch", "chose": "choose",
	"chosen": "choose", "threw": "throw", "thrown": "throw", "voted": "vote", "hid": "hide",
}

// protected words are their own stem: stripping them would merge words of
// different meaning ("arms" the weapons with "armed" and "arm"; "news" with
// "new"; "aids" the disease with "aid").
var protected = map[string]bool{
	"arms": true, "news": true, "aids": true, "isis": true, "gas": true, "bias": true,
	"series": true, "species": true, "means": true, "politics": true, "economics": true,
	"crisis": true, "virus": true, "status": true, "census": true, "chaos": true,
	"hamas": true, "texas": true, "paris": true, "always": true, "press": true,
}

// stem reduces a lower-cased word to a light stem so that inflections share
// one form: trade, trades, traded and trading all become "trad"; ship,
// ships, shipped and shipping become "ship"; supply, supplies and supplied
// become "supply". It is deliberately conservative (no derivational
// suffixes): "military" and "militarily" stay apart. The result aliases w or
// buf.
func stem(w []byte, buf []byte) []byte {
	if base, ok := irregular[string(w)]; ok {
		w = append(buf[:0], base...)
	} else if protected[string(w)] {
		return w
	}
	return stemRules(w, buf)
}

// stemRules is stem for a word that is neither irregular nor protected.
func stemRules(w []byte, buf []byte) []byte {
	if len(w) <= 3 {
		return w
	}
	n := len(w)
	switch {
	case n > 4 && hasSuffix(w, "ies"), n > 4 && hasSuffix(w, "ied"):
		out := append(buf[:0], w[:n-3]...)
		return append(out, 'y')
	case hasSuffix(w, "sses"):
		return w[:n-2]
	case hasSuffix(w, "ss"), hasSuffix(w, "us"), hasSuffix(w, "is"):
		return w
	case n > 4 && (hasSuffix(w, "shes") || hasSuffix(w, "ches") || hasSuffix(w, "xes") || hasSuffix(w, "zes")):
		return w[:n-2]
	case hasSuffix(w, "s"):
		w = w[:n-1]
	case n >= 6 && hasSuffix(w, "ing") && hasVowel(w[:n-3]):
		return undouble(w[:n-3])
	case n >= 5 && hasSuffix(w, "ed") && hasVowel(w[:n-2]):
		return undouble(w[:n-2]) // agreed -> agre, like agree
	}
	if len(w) >= 4 && w[len(w)-1] == 'e' {
		return w[:len(w)-1]
	}
	return w
}

func hasSuffix(w []byte, s string) bool {
	return len(w) >= len(s) && string(w[len(w)-len(s):]) == s
}

func hasVowel(w []byte) bool {
	for _, c := range w {
		switch c {
		case 'a', 'e', 'i', 'o', 'u', 'y':
			return true
		}
	}
	return false
}

// undouble drops the last letter of a stem ending in a doubled consonant
// other than l, s or z: shipp -> ship, plann -> plan, but shell stays.
func undouble(w []byte) []byte {
	n := len(w)
	if n >= 3 && w[n-1] == w[n-2] {
		switch w[n-1] {
		case 'b', 'd', 'f', 'g', 'm', 'n', 'p', 'r', 't':
			return w[:n-1]
		}
	}
	return w
}

// stemString is stem for a string, for compiling cues.
func stemString(w string) string {
	return string(stem([]byte(w), make([]byte, 0, len(w)+1)))
}
