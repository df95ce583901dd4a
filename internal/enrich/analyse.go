package enrich

import (
	"strings"

	"github.com/newsflow/newsflow/pkg/events"
)

// scratch holds the buffers of one analysis; Taggers reuse them.
type scratch struct {
	toks    []token
	ids     []uint32
	caps    []bool // per token: the token's line is written in capitals
	buf     []byte
	matches []gmatch
	cover   []int32 // per token: index into matches, or -1
	runs    []nameRun
}

// gmatch is one gazetteer match: tokens [s,e) and the entry chosen per class
// (-1 when none).
type gmatch struct {
	s, e            int32
	country, person int32
	org             int32
	weak            bool // a country mention that is weak evidence (currency, "U.S. dlrs")
	dropped         bool // removed by a context rule
}

// doc is the per-article state shared by the analysis steps.
type doc struct {
	text      string
	bodyStart int
	s         *scratch
	g         *gazetteer
	// titleEnd is the byte offset where the title ends.
	titleEnd int
	// datelineEnd is the byte offset where a dateline ("SEOUL, Feb 3 -") ends, or bodyStart.
	datelineEnd int
	// leadEnd is the byte offset where the lead (first sentence of the body) ends.
	leadEnd int
	// titleCase: the title capitalises most words, so a capital there says little.
	titleCase bool
	// wrapped: the body is hard-wrapped (most lines 40 to 90 bytes), so a
	// single line break may fall inside a sentence or a name.
	wrapped bool
}

// result is the tags of one article.
type result struct {
	countries []events.Country
	people    []events.Entity
	orgs      []events.Entity
}

// prepare tokenises text and looks up every token.
func (t *Tagger) prepare(s *scratch, text string, bodyStart int) *doc {
	d := &doc{text: text, bodyStart: bodyStart, s: s, g: t.g}
	d.titleEnd = max(0, bodyStart-2)
	s.toks = tokenize(text, s.toks[:0])
	d.normalise()
	return d
}

// language detects the language of the prepared text: by script, then for
// Latin script by the function words among the first tokens.
func (d *doc) language() string {
	lang, latin := scriptLanguage(d.text)
	if !latin {
		return lang
	}
	var counts [32]int
	total := 0
	for i, tk := range d.s.toks {
		if int(tk.start) > latinSample {
			break
		}
		if !tk.is(shapeWord) || tk.is(shapeDigit) {
			continue
		}
		total++
		if bits := d.g.langBits[d.s.ids[i]]; bits != 0 {
			for k := range stopLangs {
				if bits&(1<<uint(k)) != 0 {
					counts[k]++
				}
			}
		}
	}
	return decideLatin(counts[:len(stopLangs)], total)
}

// analyse finds the countries, people and organizations of a prepared English text.
func (*Tagger) analyse(d *doc) result {
	d.markCaps()
	d.wrapped = isHardWrapped(d.text[d.bodyStart:])
	d.findDateline()
	d.matchGazetteer()
	d.countryRules()
	people := d.findPeople()
	return result{
		countries: d.countries(),
		people:    people,
		orgs:      d.organizations(),
	}
}

// normalise looks up every token's vocabulary id (0 when unknown).
func (d *doc) normalise() {
	s := d.s
	s.ids = s.ids[:0]
	tab := &d.g.trie.table
	for _, tk := range s.toks {
		w := d.text[tk.start:tk.end]
		ascii := true
		for i := 0; i < len(w); i++ {
			if w[i] >= 0x80 {
				ascii = false
				break
			}
		}
		var id uint32
		if ascii {
			id = tab.lookupASCII(w)
		} else if b, changed := normToken(w, s.buf); changed {
			s.buf = b
			id = tab.lookup(string(b))
		} else {
			id = tab.lookup(w)
		}
		s.ids = append(s.ids, id)
	}
}

// markCaps flags tokens on lines written mostly in capitals (headlines,
// datelines), where case says nothing about names.
func (d *doc) markCaps() {
	s := d.s
	s.caps = growBools(s.caps, len(s.toks))
	start := 0
	flush := func(end int) {
		caps, other := 0, 0
		for i := start; i < end; i++ {
			tk := s.toks[i]
			if !tk.is(shapeWord) || tk.is(shapeDigit) {
				continue
			}
			if tk.is(shapeAllCap) {
				caps++
			} else if tk.end-tk.start > 1 {
				other++
			}
		}
		isCaps := caps >= 2 && other*3 <= caps
		for i := start; i < end; i++ {
			s.caps[i] = isCaps
		}
	}
	for i, tk := range s.toks {
		if tk.lineStart && i > start {
			flush(i)
			start = i
		}
	}
	flush(len(s.toks))
	// Title case: most title words capitalised.
	up, low := 0, 0
	for _, tk := range s.toks {
		if int(tk.start) >= d.titleEnd {
			break
		}
		if tk.is(shapeUpper) {
			up++
		} else if tk.is(shapeLower) {
			low++
		}
	}
	d.titleCase = up >= 3 && low*2 < up
}

func growBools(b []bool, n int) []bool {
	if cap(b) < n {
		return make([]bool, n)
	}
	b = b[:n]
	clear(b)
	return b
}

// findDateline recognises a dateline at the start of the body: a place in
// capitals followed by a date or country and a dash or colon
// ("SEOUL, South Korea: ", "SALVADOR, Feb 26 - ", "LONDON (Reuters) - ").
func (d *doc) findDateline() {
	d.datelineEnd = d.bodyStart
	body := d.text[d.bodyStart:]
	limit := min(len(body), 120)
	head := body[:limit]
	if len(head) < 4 || !(head[0] >= 'A' && head[0] <= 'Z') || !(head[1] >= 'A' && head[1] <= 'Z' || head[1] == '.') {
		d.leadEnd = d.sentenceEnd(d.bodyStart)
		return
	}
	cut := -1
	for i := 2; i < len(head); i++ {
		c := head[i]
		if c == '\n' && i > 0 && cut < 0 {
			// A dateline on a line of its own ("LONDON 1996-08-30").
			if allCapsWord(head[:i]) {
				cut = i
			}
			break
		}
		if c == '-' && head[i-1] == ' ' && (i+1 >= len(head) || head[i+1] == ' ' || head[i+1] == '-') ||
			c == ':' && (i+1 >= len(head) || head[i+1] == ' ') {
			cut = i
			break
		}
		if c == 0xe2 && i+2 < len(head) && head[i+1] == 0x80 && (head[i+2] == 0x94 || head[i+2] == 0x93) {
			cut = i // em or en dash
			break
		}
	}
	if cut > 0 && allCapsWord(head[:cut]) {
		d.datelineEnd = d.bodyStart + cut
	}
	d.leadEnd = d.sentenceEnd(d.datelineEnd)
}

// allCapsWord reports whether s starts with a word of at least two capitals.
func allCapsWord(s string) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			n++
			continue
		}
		if c == '.' || c == '\'' {
			continue
		}
		break
	}
	return n >= 2
}

// sentenceEnd returns the end of the sentence starting at from (at most 400 bytes on).
func (d *doc) sentenceEnd(from int) int {
	end := min(len(d.text), from+400)
	for i := from + 20; i < end-1; i++ {
		c := d.text[i]
		if (c == '.' || c == '!' || c == '?') && (d.text[i+1] == ' ' || d.text[i+1] == '\n') {
			// Not after a single capital (U.S. or an initial).
			if i >= 2 && d.text[i-2] == '.' || i >= 2 && d.text[i-1] >= 'A' && d.text[i-1] <= 'Z' && (d.text[i-2] == ' ' || d.text[i-2] == '.') {
				continue
			}
			return i + 1
		}
	}
	return end
}

// matchGazetteer finds leftmost-longest gazetteer matches whose case rules
// hold, and records which tokens each covers.
func (d *doc) matchGazetteer() {
	s := d.s
	s.matches = s.matches[:0]
	s.cover = s.cover[:0]
	for range s.toks {
		s.cover = append(s.cover, -1)
	}
	tr := d.g.trie
	n := len(s.toks)
	for i := 0; i < n; {
		if s.ids[i] == 0 {
			i++
			continue
		}
		node := int32(0)
		best := gmatch{country: -1, person: -1, org: -1}
		found := false
		for j := i; j < n; j++ {
			if j > i && !adjacent(d.text, s.toks[j-1], s.toks[j]) {
				break
			}
			node = tr.step(node, s.ids[j])
			if node < 0 {
				break
			}
			terms := tr.term[node]
			if len(terms) == 0 {
				continue
			}
			m := gmatch{s: int32(i), e: int32(j + 1), country: -1, person: -1, org: -1}
			ok := false
			stop := false
			for _, eid := range terms {
				e := &d.g.entries[eid]
				if !d.caseOK(e, i) {
					continue
				}
				switch e.class {
				case classCountry:
					if m.country < 0 {
						m.country = eid
					}
				case classPerson:
					if m.person < 0 {
						m.person = eid
					}
				case classOrg:
					if m.org < 0 {
						m.org = eid
					}
				case classStop:
					stop = true
				}
				ok = true
			}
			if ok {
				if stop && m.person < 0 && m.org < 0 {
					m.country = -1 // a stop entry blocks a country reading of the same words
				}
				best = m
				found = true
			}
		}
		if !found {
			i++
			continue
		}
		idx := int32(len(s.matches))
		s.matches = append(s.matches, best)
		for k := best.s; k < best.e; k++ {
			s.cover[k] = idx
		}
		i = int(best.e)
	}
}

// adjacent reports whether b follows a within the same line with at most
// spaces between (names never span line breaks in our sources, except
// hard-wrapped text, where one newline is allowed).
func adjacent(text string, a, b token) bool {
	gap := text[a.end:b.start]
	if len(gap) > 3 {
		for i := 0; i < len(gap); i++ {
			if gap[i] != ' ' {
				return false
			}
		}
		return len(gap) <= 6
	}
	nl := 0
	for i := 0; i < len(gap); i++ {
		switch gap[i] {
		case ' ', '\t':
		case '\n':
			nl++
		default:
			return false
		}
	}
	return nl <= 1
}

// caseOK checks an entry's case rule against the text tokens starting at i.
func (d *doc) caseOK(e *entry, i int) bool {
	toks := d.s.toks[i : i+e.ntok]
	switch e.rule {
	case caseExact:
		// In a line of capitals an acronym that is also a common word ("WHO",
		// "IT") is the word; "US" is left to the pronoun rule.
		if d.s.caps[i] && e.ntok == 1 && d.lex(i)&lexNonName != 0 && d.tokText(i) != "US" {
			return false
		}
		for _, tk := range toks {
			if tk.is(shapeWord) && !tk.is(shapeAllCap) && !(tk.end-tk.start == 1 && tk.is(shapeUpper)) {
				return false
			}
		}
		return true
	case caseLower:
		return toks[0].is(shapeLower) || toks[0].is(shapeAllCap)
	}
	for k, tk := range toks {
		if e.upper&(1<<uint(k)) != 0 && !tk.is(shapeUpper) {
			return false
		}
	}
	return true
}

// lex returns the word-class flags of token i.
func (d *doc) lex(i int) uint16 {
	return d.g.lex[d.s.ids[i]]
}

// tokText returns the text of token i.
func (d *doc) tokText(i int) string {
	tk := d.s.toks[i]
	return d.text[tk.start:tk.end]
}

// tokNorm returns the normalised text of token i (allocation-free for ASCII lower case).
func (d *doc) tokNorm(i int) string {
	w := d.tokText(i)
	if b, changed := normToken(w, d.s.buf); changed {
		d.s.buf = b
		return string(b)
	}
	return w
}

// prevWord returns the index of the word token before i, or -1.
func (d *doc) prevWord(i int) int {
	for j := i - 1; j >= 0; j-- {
		if d.s.toks[j].is(shapeWord) {
			return j
		}
		if d.s.toks[j].lineStart {
			return -1
		}
	}
	return -1
}

// sentenceInitial reports whether token i starts a sentence or a line.
func (d *doc) sentenceInitial(i int) bool {
	s := d.s
	if i == 0 || s.toks[i].lineStart && (i == 0 || !d.hardWrapped(i)) {
		return true
	}
	for j := i - 1; j >= 0; j-- {
		tk := s.toks[j]
		if tk.is(shapeWord) {
			return false
		}
		w := d.text[tk.start:tk.end]
		switch w {
		case ".", "!", "?", ":", ";":
			if w == "." && j > 0 && s.toks[j-1].is(shapeWord) && s.toks[j-1].end-s.toks[j-1].start <= 3 &&
				s.toks[j-1].is(shapeUpper) && isAbbrev(d.tokText(j-1)) {
				return false // Mr. Smith, Gen. Lee
			}
			return true
		case "\"", "'", "\u201c", "\u2018", "(", "-", "\u2014", "\u2013":
			if tk.lineStart {
				return true
			}
			continue
		}
		return false
	}
	return true
}

// hardWrapped reports whether the line break before token i is inside a
// sentence: the previous line is long (hard-wrapped text) and does not end a
// sentence, and no blank line comes between.
func (d *doc) hardWrapped(i int) bool {
	if !d.wrapped || i == 0 || int(d.s.toks[i].start) <= d.bodyStart {
		return false
	}
	prev := d.tokText(i - 1)
	switch prev {
	case ".", "!", "?", ":", "\"", "\u201d":
		return false
	}
	gap := d.text[d.s.toks[i-1].end:d.s.toks[i].start]
	nl := 0
	for j := 0; j < len(gap); j++ {
		if gap[j] == '\n' {
			nl++
		}
	}
	if nl != 1 {
		return false
	}
	// Length of the previous line.
	end := int(d.s.toks[i-1].end)
	start := end
	for start > 0 && d.text[start-1] != '\n' {
		start--
	}
	return end-start >= 50
}

// isHardWrapped reports whether most lines of body are 40 to 90 bytes long.
func isHardWrapped(body string) bool {
	lines, wrapped := 0, 0
	for len(body) > 0 && lines < 50 {
		n := strings.IndexByte(body, '\n')
		if n < 0 {
			n = len(body)
		}
		if n > 0 {
			lines++
			if n >= 40 && n <= 90 {
				wrapped++
			}
		}
		body = body[min(len(body), n+1):]
	}
	return lines >= 3 && wrapped*10 >= lines*6
}

func isAbbrev(w string) bool {
	switch w {
	case "Mr", "Mrs", "Ms", "Dr", "Gen", "Sen", "Rep", "Gov", "Lt", "Col", "Capt", "Maj", "Sgt", "Adm", "Prof", "St", "Rev", "Cmdr", "Brig", "Mt", "Ft", "Jr", "Sr", "No", "Co", "Corp", "Inc", "Ltd", "Dept", "Amb":
		return true
	}
	return false
}
