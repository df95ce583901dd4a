package topics

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/newsflow/newsflow/pkg/events"
)

// maxEvidence is the most evidence spans reported per topic.
const maxEvidence = 5

// Matcher finds the topics of a Taxonomy in text. It is immutable and safe for
// concurrent use.
type Matcher struct {
	threshold float64
	tax       *Taxonomy

	stems  map[string]int32 // stemmed cue word -> word id
	exacts map[string]int32 // exact (lower-cased) cue word -> word id
	// stemSet and exactSet are the same, for the hot loop.
	stemSet, exactSet vocab
	// specialSet maps the stemmer's irregular and protected words to an
	// index in specialStems, their stems.
	specialSet   vocab
	specialStems [][]byte
	// isNeg and isPassing flag word ids that are negation or passing markers.
	isNeg, isPassing []bool
	// starts[w] lists the phrases looked for at an occurrence of word w:
	// those anchored at w (see phrase.anchor), and any-order phrases
	// containing it.
	starts  [][]phraseRef
	phrases []phrase
	topics  []ctopic
	// uses[p] lists the cues that phrase p is part of, as
	// topic<<40 | cue<<20 | group (the group of a co-occurrence cue, 0 for
	// a phrase cue); excludes[p] the topics that phrase p is an exclusion
	// of.
	uses     [][]uint64
	excludes [][]int32
	// prefixes4 is a bit set of the hashed first four bytes of every stem of
	// four bytes or more (the words that stem to it share them); prefixes
	// one of the hashed first three bytes of shorter stems, exact cue words
	// and the stemmer's special words. A text word found in neither cannot
	// be a cue word, which spares most words the stemmer and the lookups.
	prefixes, prefixes4 [prefixBits / 64]uint64
	// exactPrefixes is the same for exact cue words only, and
	// specialPrefixes for the irregular and protected words of the stemmer.
	exactPrefixes, specialPrefixes [prefixBits / 64]uint64
	// short maps every word of one or two letters or digits (by
	// shortKey) to its word ids: (stem id+1)<<16 | (exact id+1), 0 when it
	// is no cue word. Function words such as "of" and "the" take part in
	// cues, so most words of a text are looked up here, without hashing.
	short []uint32

	scratch sync.Pool // *scratch
}

type phraseRef struct {
	p      int32
	k      int16 // which word of the phrase this word is
	single bool  // the phrase is this one word
}

type phrase struct {
	words    []int32
	gap      int32
	anyOrder bool
	// anchor is the word an in-order phrase is looked for by: its longest
	// word, so that "war in ukraine" is tried at "ukraine", not at every
	// "in" of the text.
	anchor int32
}

type ctopic struct {
	id, label string
	cues      []ccue
	exclude   []int32 // phrase indices
}

type ccue struct {
	weight float64
	phrase int32     // >= 0 for a phrase cue
	groups [][]int32 // phrase indices per group, for an all cue
	window int32
}

// vtok is an occurrence of a cue word in the text.
type vtok struct {
	start, end int32
	ord        int32 // ordinal of the word among all words of the text
	sent       int32
	stem       int32 // word id of the stem, or -1
	exact      int32 // word id of the exact form, or -1
}

// span is a match of a phrase: vtoks [first, last].
type span struct{ first, last int32 }

// matchRange is the part of scratch.matches that holds one phrase's
// matches. While findPhrases collects, to counts them and last is the first
// word of the latest.
type matchRange struct{ from, to, last int32 }

type exclPair struct{ topic, phrase int32 }

// pmatch is a match of phrase p.
type pmatch struct {
	p int32
	span
}

// spans returns the matches of phrase p.
func (s *scratch) spans(p int32) []pmatch {
	r := s.ranges[p]
	return s.matches[r.from:r.to]
}

type hit struct {
	start, end int32
	cue        int32
	eff        float64
}

// scratch holds the buffers of one Match call; Matcher pools them.
type scratch struct {
	toks []vtok // the cue words of the text, in order
	// found collects phrase matches in text order; findPhrases then groups
	// them by phrase into matches. touched lists the phrases matched, in
	// the order first found.
	matches, found []pmatch
	touched        []int32
	// ranges[p] is the part of matches that holds phrase p's matches; it is
	// empty for phrases not in touched.
	ranges []matchRange
	// exclPairs lists the exclusion phrases found, as (topic, phrase);
	// excl holds the byte spans of the current topic's exclusion matches.
	exclPairs []exclPair
	excl      []span
	hits      []hit
	kept      []hit
	stem      []byte
	cands     []uint64
}

// prefixLog is the size, as a power of two, of the prefix bit sets.
const prefixLog = 15

const prefixBits = 1 << prefixLog

// prefixHash hashes the first three bytes of a lower-cased word (all of it
// when shorter).
func prefixHash(w []byte) uint32 {
	h := uint32(min(len(w), 3))
	for _, c := range w[:min(len(w), 3)] {
		h = h*131 + uint32(c)
	}
	return h % prefixBits
}

// prefix4Hash hashes the first four bytes of a word of at least four.
func prefix4Hash(w []byte) uint32 {
	return (uint32(w[0])<<24 | uint32(w[1])<<16 | uint32(w[2])<<8 | uint32(w[3])) * 2654435761 >> (32 - prefixLog)
}

// Matcher compiles t for matching. A threshold below 0 means t.Threshold;
// above 1 is an error, and so is a taxonomy that Load would reject (for one
// built or changed in code).
func (t *Taxonomy) Matcher(threshold float64) (*Matcher, error) {
	if threshold < 0 {
		threshold = t.Threshold
	}
	if threshold > 1 || math.IsNaN(threshold) {
		return nil, fmt.Errorf("topic matcher: threshold %v outside [0,1]", threshold)
	}
	if err := t.validate("taxonomy"); err != nil {
		return nil, fmt.Errorf("topic matcher: %w", err)
	}
	m := &Matcher{threshold: threshold, tax: t, stems: map[string]int32{}, exacts: map[string]int32{}}
	phraseIDs := map[string]int32{}
	compile := func(text string, gap int, anyOrder bool) int32 {
		key := fmt.Sprintf("%s\x00%d\x00%v", text, gap, anyOrder)
		if id, ok := phraseIDs[key]; ok {
			return id
		}
		p := phrase{gap: int32(gap), anyOrder: anyOrder}
		longest := 0
		for k, w := range splitWords(text) {
			p.words = append(p.words, m.word(w))
			if n := len(strings.TrimPrefix(w, "=")); n > longest {
				longest, p.anchor = n, int32(k)
			}
		}
		id := int32(len(m.phrases))
		m.phrases = append(m.phrases, p)
		phraseIDs[key] = id
		return id
	}
	for _, w := range t.Negations {
		m.flag(w, &m.isNeg)
	}
	for _, w := range t.Passing {
		m.flag(w, &m.isPassing)
	}
	for _, tp := range t.Topics {
		ct := ctopic{id: tp.ID, label: tp.Label}
		for _, c := range tp.Cues {
			cc := ccue{weight: c.Weight, phrase: -1, window: int32(c.Window)}
			if c.Phrase != "" {
				cc.phrase = compile(c.Phrase, c.Gap, c.AnyOrder)
			}
			for _, g := range c.All {
				var ids []int32
				for _, p := range g {
					ids = append(ids, compile(p, 0, false))
				}
				cc.groups = append(cc.groups, ids)
			}
			ct.cues = append(ct.cues, cc)
		}
		for _, ex := range tp.Exclude {
			ct.exclude = append(ct.exclude, compile(ex, 0, false))
		}
		m.topics = append(m.topics, ct)
	}
	if len(m.topics) >= 1<<23 {
		return nil, fmt.Errorf("topic matcher: %d topics, at most %d supported", len(m.topics), 1<<23-1)
	}
	for _, ct := range m.topics {
		if len(ct.cues) >= 1<<20 {
			return nil, fmt.Errorf("topic matcher: topic %q has %d cues, at most %d supported", ct.id, len(ct.cues), 1<<20-1)
		}
	}
	m.uses = make([][]uint64, len(m.phrases))
	m.excludes = make([][]int32, len(m.phrases))
	for ti, ct := range m.topics {
		for _, p := range ct.exclude {
			if !slices.Contains(m.excludes[p], int32(ti)) {
				m.excludes[p] = append(m.excludes[p], int32(ti))
			}
		}
	}
	for ti, ct := range m.topics {
		for ci, c := range ct.cues {
			add := func(p int32, g int) {
				use := uint64(ti)<<40 | uint64(ci)<<20 | uint64(g)
				if u := m.uses[p]; len(u) == 0 || u[len(u)-1] != use {
					m.uses[p] = append(u, use)
				}
			}
			if c.phrase >= 0 {
				add(c.phrase, 0)
			}
			for g, group := range c.groups {
				for _, p := range group {
					add(p, g)
				}
			}
		}
	}
	nw := len(m.stems) + len(m.exacts)
	if nw >= 1<<16-1 {
		return nil, fmt.Errorf("topic matcher: %d distinct cue words, at most %d supported", nw, 1<<16-2)
	}
	m.buildPrefixes()
	m.buildShort()
	m.stemSet, m.exactSet = newVocab(m.stems), newVocab(m.exacts)
	specials := map[string]int32{}
	for _, words := range []map[string]bool{mapKeys(irregular), protected} {
		for w := range words {
			if _, ok := specials[w]; !ok {
				specials[w] = int32(len(m.specialStems))
				m.specialStems = append(m.specialStems, []byte(stemString(w)))
			}
		}
	}
	m.specialSet = newVocab(specials)
	m.isNeg = grow(m.isNeg, nw)
	m.isPassing = grow(m.isPassing, nw)
	m.starts = make([][]phraseRef, nw)
	for pi, p := range m.phrases {
		for k, w := range p.words {
			if int32(k) == p.anchor || p.anyOrder {
				m.starts[w] = append(m.starts[w], phraseRef{p: int32(pi), k: int16(k), single: len(p.words) == 1})
			}
		}
	}
	m.scratch.New = func() any {
		return &scratch{stem: make([]byte, 0, 64), ranges: make([]matchRange, len(m.phrases))}
	}
	return m, nil
}

func grow(b []bool, n int) []bool {
	for len(b) < n {
		b = append(b, false)
	}
	return b
}

// buildPrefixes fills m.prefixes from the cue vocabulary.
func (m *Matcher) buildPrefixes() {
	set := func(w string) {
		h := prefixHash([]byte(w))
		m.prefixes[h/64] |= 1 << (h % 64)
	}
	for w := range m.exacts {
		set(w)
		h := prefixHash([]byte(w))
		m.exactPrefixes[h/64] |= 1 << (h % 64)
	}
	set4 := func(w string) {
		h := prefix4Hash([]byte(w))
		m.prefixes4[h/64] |= 1 << (h % 64)
	}
	for st := range m.stems {
		if len(st) < 4 {
			set(st)
			// "spies" and "spied" stem to "spy": their prefix is "spi".
			if len(st) == 3 && st[2] == 'y' {
				set(st[:2] + "i")
			}
			continue
		}
		set4(st)
		// "allies" and "allied" stem to "ally": their prefix is "alli".
		if len(st) == 4 && st[3] == 'y' {
			set4(st[:3] + "i")
		}
	}
	for form := range irregular {
		set(form)
	}
	for w := range protected {
		set(w)
	}
	for _, words := range []map[string]bool{mapKeys(irregular), protected} {
		for w := range words {
			h := prefixHash([]byte(w))
			m.specialPrefixes[h/64] |= 1 << (h % 64)
		}
	}
}

func mapKeys(m map[string]string) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

func hasBit(set *[prefixBits / 64]uint64, h uint32) bool {
	return set[h/64]&(1<<(h%64)) != 0
}

// shortKey returns the index in Matcher.short of a word of one or two
// ASCII letters or digits, or -1.
func shortKey(w []byte) int {
	if len(w) == 0 || len(w) > 2 {
		return -1
	}
	k := 0
	for _, c := range w {
		var d int
		switch {
		case c >= 'a' && c <= 'z':
			d = int(c-'a') + 1
		case c >= '0' && c <= '9':
			d = int(c-'0') + 27
		default:
			return -1
		}
		k = k*37 + d
	}
	return k
}

const shortSize = 37 * 37

// buildShort fills m.short for every short word that can be a cue word.
func (m *Matcher) buildShort() {
	m.short = make([]uint32, shortSize)
	var forms []string
	for w := range m.stems {
		forms = append(forms, w)
	}
	for w := range m.exacts {
		forms = append(forms, w)
	}
	for w := range irregular {
		forms = append(forms, w)
	}
	for _, w := range forms {
		k := shortKey([]byte(w))
		if k < 0 {
			continue
		}
		var v uint32
		if id, ok := m.stems[stemString(w)]; ok {
			v |= uint32(id+1) << 16
		}
		if id, ok := m.exacts[w]; ok {
			v |= uint32(id + 1)
		}
		m.short[k] = v
	}
}

// mayBeCue reports whether lower may be a cue word (stemmed or exact).
func (m *Matcher) mayBeCue(lower []byte) bool {
	return len(lower) >= 4 && hasBit(&m.prefixes4, prefix4Hash(lower)) || hasBit(&m.prefixes, prefixHash(lower))
}

// word returns the id of a cue word ("=form" for an exact word).
func (m *Matcher) word(w string) int32 {
	vocab, key := m.stems, ""
	if len(w) > 1 && w[0] == '=' {
		vocab, key = m.exacts, w[1:]
	} else {
		key = stemString(w)
	}
	if id, ok := vocab[key]; ok {
		return id
	}
	id := int32(len(m.stems) + len(m.exacts))
	vocab[key] = id
	return id
}

func (m *Matcher) flag(w string, flags *[]bool) {
	ws := splitWords(w)
	if len(ws) != 1 {
		return
	}
	id := m.word(ws[0])
	*flags = grow(*flags, int(id)+1)
	(*flags)[id] = true
}

// Threshold returns the minimum score of a reported topic.
func (m *Matcher) Threshold() float64 { return m.threshold }

// Taxonomy returns the taxonomy the matcher was compiled from. Callers must not
// modify it.
func (m *Matcher) Taxonomy() *Taxonomy { return m.tax }

// Match returns the topics of text scoring at least the threshold, by score
// descending then id. text is the analysed plain text (title, a blank line,
// the body); bodyStart is the byte offset where the body starts (words before
// it are the title). Every topic carries evidence spans: byte offsets into
// text, End exclusive, Surface == text[Start:End]. The result is a
// deterministic function of the arguments; it is never nil.
func (m *Matcher) Match(text string, bodyStart int) []events.Topic {
	return m.match(text, bodyStart, max(m.threshold, math.SmallestNonzeroFloat64))
}

// Score is Match without the threshold: every topic with at least one cue
// hit and a score above 0, with its score and evidence, by score descending
// then id.
func (m *Matcher) Score(text string, bodyStart int) []events.Topic {
	return m.match(text, bodyStart, math.SmallestNonzeroFloat64)
}

func (m *Matcher) match(text string, bodyStart int, threshold float64) []events.Topic {
	var out []events.Topic // allocated at the first topic reported
	if len(text) > math.MaxInt32 {
		text = text[:math.MaxInt32] // offsets are int32; no news article comes near
	}
	if bodyStart < 0 || bodyStart > len(text) {
		bodyStart = len(text)
	}
	s := m.scratch.Get().(*scratch)
	defer m.reset(s)

	bodySent := m.scan(s, text, bodyStart)
	if len(s.toks) == 0 {
		return []events.Topic{}
	}
	m.findPhrases(s)

	// minRaw is the raw score below which no topic can reach the threshold
	// (allowing for the rounding of scores to three decimals).
	minRaw := 0.0
	if t := threshold - 0.0005; t > 0 {
		minRaw = -math.Log1p(-t)
	}
	var evBuf []events.Evidence // backs the evidence of all topics

	// Only the cues that use a phrase found in the text can hit.
	s.cands = s.cands[:0]
	s.exclPairs = s.exclPairs[:0]
	for _, p := range s.touched {
		s.cands = append(s.cands, m.uses[p]...)
		for _, ti := range m.excludes[p] {
			s.exclPairs = append(s.exclPairs, exclPair{ti, p})
		}
	}
	slices.Sort(s.cands)
	s.cands = slices.Compact(s.cands)
	for i := 0; i < len(s.cands); {
		ti := s.cands[i] >> 40
		ct := &m.topics[ti]
		s.hits = s.hits[:0]
		s.excl = s.excl[:0]
		for _, ep := range s.exclPairs {
			if ep.topic != int32(ti) {
				continue
			}
			for _, sp := range s.spans(ep.phrase) {
				s.excl = append(s.excl, span{s.toks[sp.first].start, s.toks[sp.last].end})
			}
		}
		for i < len(s.cands) && s.cands[i]>>40 == ti {
			// The entries of one cue are consecutive, one per group found;
			// a co-occurrence cue can only hit when every group was found.
			cue := s.cands[i] >> 20
			groups := 0
			for ; i < len(s.cands) && s.cands[i]>>20 == cue; i++ {
				groups++
			}
			ci := int32(cue & (1<<20 - 1))
			if c := &ct.cues[ci]; c.phrase >= 0 || groups == len(c.groups) {
				m.cueHits(s, ct, ci, bodyStart, bodySent)
			}
		}
		if len(s.hits) == 0 {
			continue
		}
		// The raw score is at most the sum of the hits' weights: skip the
		// topics that cannot reach the threshold even so.
		sum := 0.0
		for _, h := range s.hits {
			sum += h.eff
		}
		if sum < minRaw {
			continue
		}
		raw := m.keep(s, ct)
		score := math.Round((1-math.Exp(-raw))*1000) / 1000
		if score < threshold {
			continue
		}
		if out == nil {
			out = make([]events.Topic, 0, min(4, len(s.cands)))
		}
		out = append(out, events.Topic{ID: ct.id, Label: ct.label, Score: score, Evidence: evidence(text, s.kept, &evBuf)})
	}
	if out == nil {
		return []events.Topic{}
	}
	slices.SortFunc(out, func(a, b events.Topic) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out
}

func (m *Matcher) reset(s *scratch) {
	for _, p := range s.touched {
		s.ranges[p] = matchRange{}
	}
	s.matches = s.matches[:0]
	s.found = s.found[:0]
	s.touched = s.touched[:0]
	s.toks = s.toks[:0]
	m.scratch.Put(s)
}

// scan collects the cue words of text and returns the sentence index of the
// first body word (-1 when the body is empty).
func (m *Matcher) scan(s *scratch, text string, bodyStart int) int32 {
	sc := scanner{text: text}
	var ord int32
	bodySent := int32(-1)
	for {
		start, end, lower, ok := sc.next()
		if !ok {
			break
		}
		if bodySent < 0 && start >= bodyStart {
			bodySent = sc.sent
		}
		sid, ex := int32(-1), int32(-1)
		if k := shortKey(lower); k >= 0 {
			v := m.short[k]
			sid, ex = int32(v>>16)-1, int32(v&0xffff)-1
		} else if h := prefixHash(lower); len(lower) >= 4 && hasBit(&m.prefixes4, prefix4Hash(lower)) || hasBit(&m.prefixes, h) {
			if hasBit(&m.exactPrefixes, h) {
				ex = m.exactSet.get(lower)
			}
			var st []byte
			if hasBit(&m.specialPrefixes, h) {
				if id := m.specialSet.get(lower); id >= 0 {
					st = m.specialStems[id]
				}
			}
			if st == nil {
				st = stemRules(lower, s.stem[:0])
			}
			sid = m.stemSet.get(st)
		}
		if sid >= 0 || ex >= 0 {
			s.toks = append(s.toks, vtok{start: int32(start), end: int32(end), ord: ord, sent: sc.sent, stem: sid, exact: ex})
		}
		ord++
	}
	return bodySent
}

// findPhrases records every match of every phrase in s.matches (one per
// phrase and first word) and the phrases matched in s.touched.
func (m *Matcher) findPhrases(s *scratch) {
	toks := s.toks
	for i := range toks {
		for _, w := range [2]int32{toks[i].stem, toks[i].exact} {
			if w < 0 {
				continue
			}
			for _, ref := range m.starts[w] {
				first, last := int32(i), int32(i)
				if !ref.single {
					var ok bool
					if first, last, ok = m.matchAt(toks, i, &m.phrases[ref.p], int32(ref.k)); !ok {
						continue
					}
				}
				r := &s.ranges[ref.p]
				switch {
				case r.to == 0:
					s.touched = append(s.touched, ref.p)
				case r.last == first:
					continue // the same match, found from another word
				}
				r.to++
				r.last = first
				s.found = append(s.found, pmatch{ref.p, span{first, last}})
			}
		}
	}
	// Group the matches by phrase (a counting sort: they are already in text
	// order within each phrase).
	off := int32(0)
	for _, p := range s.touched {
		r := &s.ranges[p]
		r.from, off = off, off+r.to
		r.to = r.from
	}
	s.matches = slices.Grow(s.matches[:0], len(s.found))[:len(s.found)]
	for _, mt := range s.found {
		r := &s.ranges[mt.p]
		s.matches[r.to] = mt
		r.to++
	}
}

func (v vtok) is(w int32) bool { return v.stem == w || v.exact == w }

// matchAt reports whether phrase p matches with its word k at toks[i], i
// being the match's first word, and returns the index of its last word.
func (m *Matcher) matchAt(toks []vtok, i int, p *phrase, k int32) (first, last int32, ok bool) {
	if len(p.words) == 1 {
		return int32(i), int32(i), true
	}
	if !p.anyOrder {
		// Words after the anchor, forwards; then words before it, backwards.
		prev := i
		for _, w := range p.words[k+1:] {
			found := -1
			for j := prev + 1; j < len(toks); j++ {
				if toks[j].sent != toks[i].sent || toks[j].ord > toks[prev].ord+1+p.gap {
					break
				}
				if toks[j].is(w) {
					found = j
					break
				}
			}
			if found < 0 {
				return 0, 0, false
			}
			prev = found
		}
		next := i
		for kk := k - 1; kk >= 0; kk-- {
			w := p.words[kk]
			found := -1
			for j := next - 1; j >= 0; j-- {
				if toks[j].sent != toks[i].sent || toks[j].ord < toks[next].ord-1-p.gap {
					break
				}
				if toks[j].is(w) {
					found = j
					break
				}
			}
			if found < 0 {
				return 0, 0, false
			}
			next = found
		}
		return int32(next), int32(prev), true
	}
	// Any order: every other word once, to the right of i, within the span
	// limit of len(words) + gap*(len(words)-1) words.
	limit := toks[i].ord + int32(len(p.words)) - 1 + p.gap*int32(len(p.words)-1)
	end := i
	var used [8]int32
	nUsed := 0
	for kk, w := range p.words {
		if int32(kk) == k {
			continue
		}
		found := -1
		for j := i + 1; j < len(toks); j++ {
			if toks[j].sent != toks[i].sent || toks[j].ord > limit {
				break
			}
			if toks[j].is(w) && !slices.Contains(used[:nUsed], int32(j)) {
				found = j
				break
			}
		}
		if found < 0 {
			return 0, 0, false
		}
		if nUsed < len(used) {
			used[nUsed] = int32(found)
			nUsed++
		}
		end = max(end, found)
	}
	return int32(i), int32(end), true
}

// cueHits appends the hits of cue ci of topic ct to s.hits, with their
// effective weights, leaving out hits an exclusion overlaps.
func (m *Matcher) cueHits(s *scratch, ct *ctopic, ci int32, bodyStart int, bodySent int32) {
	c := &ct.cues[ci]
	add := func(first, last int32) {
		st, en := s.toks[first].start, s.toks[last].end
		for _, ex := range s.excl {
			if ex.first < en && st < ex.last {
				return
			}
		}
		s.hits = append(s.hits, hit{start: st, end: en, cue: ci, eff: c.weight * m.factor(s.toks, first, bodyStart, bodySent)})
	}
	if c.phrase >= 0 {
		for _, sp := range s.spans(c.phrase) {
			add(sp.first, sp.last)
		}
		return
	}
	// Co-occurrence: anchor on each match of the first group; every other
	// group needs its nearest match in the same sentence within the window.
	for _, p0 := range c.groups[0] {
		for _, a := range s.spans(p0) {
			first, last := a.first, a.last
			ok := true
			for _, g := range c.groups[1:] {
				best, bestDist := span{-1, -1}, int32(math.MaxInt32)
				for _, pg := range g {
					for _, b := range s.spans(pg) {
						if s.toks[b.first].sent != s.toks[a.first].sent {
							continue
						}
						d := max(s.toks[b.last].ord, s.toks[a.last].ord) - min(s.toks[b.first].ord, s.toks[a.first].ord)
						if d > c.window || !(b.last < a.first || b.first > a.last) {
							continue
						}
						// Prefer the longer phrase ("artillery shells" over
						// "artillery"), then the nearer one.
						if best.first < 0 || b.last-b.first > best.last-best.first ||
							b.last-b.first == best.last-best.first && d < bestDist {
							best, bestDist = b.span, d
						}
					}
				}
				if best.first < 0 {
					ok = false
					break
				}
				first, last = min(first, best.first), max(last, best.last)
			}
			if ok {
				add(first, last)
			}
		}
	}
}

// factor is the weight multiplier of a hit starting at toks[first]: the title
// or lead boost, times the negation or passing-mention discount.
func (m *Matcher) factor(toks []vtok, first int32, bodyStart int, bodySent int32) float64 {
	t := m.tax
	f := 1.0
	switch v := toks[first]; {
	case int(v.start) < bodyStart:
		f = t.TitleBoost
	case v.sent == bodySent:
		f = t.LeadBoost
	}
	v := toks[first]
	for j := first - 1; j >= 0; j-- {
		u := toks[j]
		if u.sent != v.sent || v.ord-u.ord > int32(t.NegationScope) {
			break
		}
		if m.flagged(m.isNeg, u) {
			return f * t.NegationFactor
		}
		if m.flagged(m.isPassing, u) {
			return f * t.PassingFactor
		}
	}
	return f
}

func (m *Matcher) flagged(flags []bool, u vtok) bool {
	return u.stem >= 0 && flags[u.stem] || u.exact >= 0 && flags[u.exact]
}

// keep chooses the hits that count (no two overlapping: the stronger wins)
// into s.kept and returns the topic's raw score: per cue, its best hit plus
// half the second and a quarter of the third; the sum is multiplied by
// WeakFactor when the evidence is weak.
func (m *Matcher) keep(s *scratch, ct *ctopic) float64 {
	slices.SortFunc(s.hits, func(a, b hit) int {
		if c := cmp.Compare(b.eff, a.eff); c != 0 {
			return c
		}
		if c := cmp.Compare(a.start, b.start); c != 0 {
			return c
		}
		return cmp.Compare(a.cue, b.cue)
	})
	s.kept = s.kept[:0]
	raw := 0.0
	for _, h := range s.hits {
		if slices.ContainsFunc(s.kept, func(k hit) bool { return k.start < h.end && h.start < k.end }) {
			continue
		}
		n := 0
		for _, k := range s.kept {
			if k.cue == h.cue {
				n++
			}
		}
		if n < 3 {
			raw += h.eff / float64(int(1)<<n)
		}
		s.kept = append(s.kept, h)
	}
	// Weak evidence: without one cue of at least StrongWeight and with fewer
	// than three distinct cues, the topic is only hinted at.
	t := m.tax
	strong, distinct := false, 0
	for i, k := range s.kept {
		strong = strong || ct.cues[k.cue].weight >= t.StrongWeight
		if !slices.ContainsFunc(s.kept[:i], func(o hit) bool { return o.cue == k.cue }) {
			distinct++
		}
	}
	if !strong && distinct < 3 {
		raw *= t.WeakFactor
	}
	return raw
}

// evidence returns the strongest kept hits as spans of text, in text order.
// The spans are carved out of *buf, which is grown as needed, so that one
// Match call allocates evidence once or twice rather than once per topic.
func evidence(text string, kept []hit, buf *[]events.Evidence) []events.Evidence {
	n := min(len(kept), maxEvidence)
	if cap(*buf)-len(*buf) < n {
		*buf = make([]events.Evidence, 0, max(n, 2*maxEvidence))
	}
	start := len(*buf)
	ev := (*buf)[start : start+n : start+n]
	*buf = (*buf)[:start+n]
	for i, h := range kept[:n] {
		e := events.Evidence{Start: int(h.start), End: int(h.end), Surface: text[h.start:h.end]}
		j := i
		for ; j > 0 && ev[j-1].Start > e.Start; j-- { // insertion sort by start
			ev[j] = ev[j-1]
		}
		ev[j] = e
	}
	return ev
}
