package enrich

import (
	"math"
	"sort"

	"github.com/newsflow/newsflow/pkg/events"
)

// Context words for the ambiguity rules. Each set is small and general.
var (
	// Words after a currency-like country mention ("U.S. dlrs") that make it weak evidence.
	currencyWords = setOf("dlrs", "dlr", "dollar", "dollars", "cents", "francs", "franc", "marks", "mark",
		"crowns", "crown", "pesos", "peso", "pounds", "pound", "yen", "lire", "lira", "dinars", "rupees", "riyals",
		"kroner", "krona", "kronor", "rand", "shillings", "bonds", "treasuries", "treasury")
	// Before "US" in a capitals line, words that make it the pronoun.
	pronounUsBefore = setOf("let", "tell", "told", "give", "gave", "help", "join", "with", "for", "to", "of",
		"about", "among", "from", "by", "against", "behind", "before", "like", "show", "showed", "make", "made",
		"send", "sent", "ask", "asked", "between", "without", "all", "both", "save", "keep", "leave", "take",
		"call", "called", "see", "saw", "hear", "heard", "love", "hate", "beat", "on", "upon", "at", "into")
	// Food and tableware contexts for Turkey and China.
	birdWords = setOf("dinner", "dinners", "sandwich", "sandwiches", "breast", "breasts", "meat", "roast",
		"feathers", "farm", "farms", "farmer", "farmers", "burger", "burgers", "leg", "legs", "recipe",
		"recipes", "stuffing", "gravy", "hunting", "hunter", "hunters", "vulture", "vultures", "bacon",
		"sausage", "sausages", "carcass", "carcasses", "flock", "flocks", "trot", "shoot", "hen", "hens", "gobbler")
	birdBefore    = setOf("thanksgiving", "roast", "roasted", "wild", "christmas", "smoked", "stuffed", "cold", "sliced", "frozen", "whole", "butterball")
	porcelainNext = setOf("cabinet", "cabinets", "shop", "plate", "plates", "teapot", "teapots", "dishes", "doll",
		"dolls", "clay", "pattern", "patterns", "cup", "cups", "saucer", "saucers", "tea", "set", "sets", "closet", "hutch")
	porcelainBefore = setOf("fine", "bone", "blue", "willow", "antique", "wedding", "porcelain", "painted", "everyday", "good")
	// Country or place names that are also given names.
	givenNameLike = setOf("jordan", "chad", "georgia", "israel", "charlotte", "austin", "florence", "regina",
		"india", "kenya", "sydney", "victoria", "paris", "lincoln", "jackson", "madison", "chelsea", "dallas", "houston", "tyrone", "kent", "douglas", "orlando", "savannah", "phoenix", "lima")
	// Signals that "Georgia" is the U.S. state.
	georgiaUS = setOf("atlanta", "savannah", "augusta", "macon", "ga", "ga.", "athens", "columbus", "peach", "carolina",
		"alabama", "florida", "tennessee", "bulldogs", "emory", "falcons", "braves", "county", "gov", "governor", "legislature", "state")
	// Signals that "Georgia" is the country.
	georgiaGE = setOf("tbilisi", "georgian", "georgians", "caucasus", "abkhazia", "ossetia", "saakashvili", "shevardnadze",
		"ivanishvili", "batumi", "kutaisi", "soviet", "kremlin", "moscow", "russia", "russian", "armenia", "azerbaijan", "nato")
)

func setOf(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// countryRules drops or adjusts country matches that context shows are
// something else: the pronoun "us", Turkey the bird, China the porcelain,
// given names (Jordan, Chad), Georgia the U.S. state.
func (d *doc) countryRules() {
	s := d.s
	// Does the text use "turkey" or "china" as a common noun?
	var lowerTurkey, lowerChina bool
	for i, tk := range s.toks {
		if tk.is(shapeLower) && s.ids[i] != 0 {
			switch d.tokText(i) {
			case "turkey", "turkeys":
				lowerTurkey = true
			case "china":
				lowerChina = true
			}
		}
	}
	georgiaUSScore, georgiaGEScore := -1, -1
	for mi := range s.matches {
		m := &s.matches[mi]
		if m.country < 0 {
			continue
		}
		e := &d.g.entries[m.country]
		code := d.g.countries[e.target].code
		first := int(m.s)
		single := m.e-m.s == 1
		w := d.tokNorm(first)
		prev := d.prevWord(first)
		next := d.nextWord(int(m.e) - 1)
		prevNorm, nextNorm := "", ""
		if prev >= 0 {
			prevNorm = d.tokNorm(prev)
		}
		if next >= 0 {
			nextNorm = d.tokNorm(next)
		}
		switch {
		case w == "us" && single && s.caps[first]:
			// "LET US", "FOR US": the pronoun in a headline.
			if pronounUsBefore[prevNorm] {
				m.dropped = true
			}
		case w == "turkey" && single:
			if birdWords[nextNorm] || birdBefore[prevNorm] ||
				lowerTurkey && (d.sentenceInitial(first) || int(s.toks[first].start) < d.titleEnd) {
				m.dropped = true
			}
		case w == "china" && single:
			if porcelainNext[nextNorm] || porcelainBefore[prevNorm] ||
				lowerChina && (d.sentenceInitial(first) || int(s.toks[first].start) < d.titleEnd) {
				m.dropped = true
			}
		}
		if m.dropped {
			continue
		}
		// A given name before a one-word place makes it a surname (Michael Jordan,
		// Whitney Houston); a name-shaped word after a given-name-like place makes
		// the place a first name (Chad Smith, Jordan Peterson).
		if single && e.kind != kindDemonym && !s.caps[first] {
			if prev == first-1 && prev >= 0 && s.cover[prev] < 0 && s.toks[prev].is(shapeUpper) && d.g.givenNames[prevNorm] &&
				!d.sentenceInitialName(prev) {
				m.dropped = true
				continue
			}
			if prev == first-1 && prev >= 0 && s.cover[prev] < 0 && titleWords[prevNorm] && s.toks[prev].is(shapeUpper) && givenNameLike[w] {
				m.dropped = true // Mr Jordan
				continue
			}
			if givenNameLike[w] && next == first+1 && s.cover[next] < 0 && s.toks[next].is(shapeUpper) &&
				!s.toks[next].is(shapeAllCap) && !d.g.nonNames[nextNorm] && !orgWords[nextNorm] && !geoWords[nextNorm] {
				m.dropped = true
				continue
			}
		}
		if code == "GE" && w == "georgia" {
			if georgiaUSScore < 0 {
				georgiaUSScore, georgiaGEScore = d.georgiaContext()
			}
			if georgiaUSScore > georgiaGEScore {
				m.country = d.usPlaceEntry()
			}
		}
		// "HANOVER, N.H.", "Paris, Texas", "London, Ontario": a place qualified
		// by a state or country is in that state or country.
		if (e.kind == kindPlace || e.kind == kindCapital) && d.qualifiedElsewhere(mi, code) {
			m.dropped = true
			continue
		}
		// "U.S. dlrs", "Canadian dlrs": the country names a currency.
		if currencyWords[nextNorm] && next == int(m.e) {
			m.weak = true
		}
		if e.kind == kindCurrency {
			m.weak = true
		}
	}
}

// qualifiedElsewhere reports whether match mi is followed by ", Y" where Y
// is a place or country name of another country, written as a qualifier (an
// abbreviation such as "N.H.", or not followed by more list items).
func (d *doc) qualifiedElsewhere(mi int, code string) bool {
	s := d.s
	m := s.matches[mi]
	comma := int(m.e)
	if comma >= len(s.toks) || d.tokText(comma) != "," || mi+1 >= len(s.matches) {
		return false
	}
	q := s.matches[mi+1]
	if int(q.s) != comma+1 || q.country < 0 || q.dropped {
		return false
	}
	qe := &d.g.entries[q.country]
	if d.g.countries[qe.target].code == code || qe.kind != kindPlace && qe.kind != kindName {
		return false
	}
	last := d.tokText(int(q.e) - 1)
	if last == "." || s.toks[q.e-1].is(shapeDots) {
		return true
	}
	if nx := int(q.e); nx < len(s.toks) {
		switch d.tokText(nx) {
		case ",", "and", "or", "&", ";", "/":
			return false
		}
	}
	return true
}

// sentenceInitialName is sentenceInitial for a candidate given name: a given
// name at the start of a sentence still counts unless it is a capitalised
// function word.
func (d *doc) sentenceInitialName(i int) bool {
	return d.sentenceInitial(i) && d.g.nonNames[d.tokNorm(i)]
}

// nextWord returns the index of the word token after i, or -1.
func (d *doc) nextWord(i int) int {
	for j := i + 1; j < len(d.s.toks); j++ {
		if d.s.toks[j].lineStart {
			return -1
		}
		if d.s.toks[j].is(shapeWord) {
			return j
		}
		if j > i+2 {
			return -1
		}
	}
	return -1
}

// georgiaContext counts the words that point to the U.S. state and to the country.
func (d *doc) georgiaContext() (us, ge int) {
	s := d.s
	for i, tk := range s.toks {
		if !tk.is(shapeWord) {
			continue
		}
		w := d.tokNorm(i)
		if georgiaUS[w] {
			us++
		}
		if georgiaGE[w] {
			ge++
		}
	}
	for _, m := range s.matches {
		if m.country < 0 || m.dropped {
			continue
		}
		e := &d.g.entries[m.country]
		switch d.g.countries[e.target].code {
		case "US":
			if e.kind == kindPlace {
				us++
			}
		case "RU", "AM", "AZ", "TR", "UA":
			ge++
		}
	}
	return us, ge
}

// usPlaceEntry returns an entry id that maps to the United States as a place.
func (d *doc) usPlaceEntry() int32 {
	for i := range d.g.entries {
		e := &d.g.entries[i]
		if e.class == classCountry && e.kind == kindPlace && d.g.countries[e.target].code == "US" {
			return int32(i)
		}
	}
	return -1
}

// countryAcc accumulates one country's mentions and salience evidence.
type countryAcc struct {
	idx                         int32
	mentions                    []events.Mention
	strong, weak                int
	inTitle, inDateline, inLead bool
	note                        string
}

// countries aggregates country matches into tags with salience scores.
func (d *doc) countries() []events.Country {
	s := d.s
	var accs []*countryAcc
	byIdx := map[int32]*countryAcc{}
	for _, m := range s.matches {
		if m.country < 0 || m.dropped {
			continue
		}
		e := &d.g.entries[m.country]
		a := byIdx[e.target]
		if a == nil {
			a = &countryAcc{idx: e.target}
			byIdx[e.target] = a
			accs = append(accs, a)
		}
		start, end := int(s.toks[m.s].start), int(s.toks[m.e-1].end)
		kind := e.kind
		if kind == kindCurrency {
			kind = kindMetonym
		}
		a.mentions = append(a.mentions, events.Mention{Start: start, End: end, Surface: d.text[start:end], Kind: kind})
		if e.note != "" && a.note == "" {
			a.note = e.note
		}
		switch {
		case start < d.titleEnd:
			a.inTitle = true
			a.strong++
		case start >= d.bodyStart && end <= d.datelineEnd:
			a.inDateline = true
			a.strong++
		case m.weak:
			a.weak++
			continue
		default:
			a.strong++
		}
		if start >= d.datelineEnd && start < d.leadEnd && !m.weak {
			a.inLead = true
		}
	}
	if len(accs) == 0 {
		return []events.Country{}
	}
	anchored := false // a country in the title or dateline
	maxStrong := 0
	for _, a := range accs {
		maxStrong = max(maxStrong, a.strong)
		anchored = anchored || a.inTitle || a.inDateline
	}
	out := make([]events.Country, 0, len(accs)+1)
	for _, a := range accs {
		// Salience: the title and the dateline say what a story is about; a
		// country named only in the body needs repeated mentions (or to be the
		// main country of a story without title or dateline country). Passing
		// mentions and currencies ("U.S. dlrs", "yen") stay below 0.5.
		var score float64
		switch {
		case a.inTitle || a.inDateline:
			score = 0.5
			if a.inTitle {
				score += 0.2
			}
			if a.inDateline {
				score += 0.2
			}
			if a.inLead {
				score += 0.05
			}
			score += 0.02 * float64(min(a.strong, 5))
		case a.strong > 0:
			score = 0.1 + 0.08*float64(min(a.strong, 5))
			if a.inLead {
				score += 0.1
			}
			if !anchored && a.strong == maxStrong {
				score += 0.32
			}
			score += 0.02 * float64(min(max(a.strong-5, 0), 5))
		default:
			score = math.Min(0.1+0.05*float64(a.weak), 0.35)
		}
		rec := d.g.countries[a.idx]
		c := events.Country{Code: rec.code, Name: rec.name, Score: round3(math.Min(score, 1)), Mentions: a.mentions}
		c.Note = a.note
		out = append(out, c)
	}
	if implied := d.impliedUS(out); implied != nil {
		out = implied
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].Code < out[j].Code
	})
	return out
}

// impliedUS handles stories that name no country they are about but imply
// the United States: prices in bare dollars ("45 mln dlrs") or American
// company names ("Acme Inc", "Acme Corp"). When no country scores 0.5 or
// more and such words occur, the United States is reported at 0.5 with those
// words as its mentions. It returns nil when nothing changes.
func (d *doc) impliedUS(out []events.Country) []events.Country {
	for _, c := range out {
		if c.Score >= 0.5 {
			return nil
		}
	}
	s := d.s
	var ms []events.Mention
	for i, tk := range s.toks {
		if !tk.is(shapeWord) || s.cover[i] >= 0 {
			continue
		}
		w := d.tokText(i)
		switch w {
		case "dlrs", "dlr", "dollars", "dollar", "Inc", "Corp":
		default:
			continue
		}
		if prev := i - 1; prev >= 0 {
			if s.cover[prev] >= 0 && !s.matches[s.cover[prev]].dropped && s.matches[s.cover[prev]].country >= 0 {
				continue // "Canadian dlrs" names its own country
			}
			if (w == "Inc" || w == "Corp") && !s.toks[prev].is(shapeUpper) {
				continue
			}
		}
		ms = append(ms, events.Mention{Start: int(tk.start), End: int(tk.end), Surface: w, Kind: kindMetonym})
		if len(ms) == 3 {
			break
		}
	}
	if len(ms) == 0 {
		return nil
	}
	for i := range out {
		if out[i].Code == "US" {
			out[i].Score = 0.5
			return out
		}
	}
	idx, ok := d.g.byCode["US"]
	if !ok {
		return nil
	}
	rec := d.g.countries[idx]
	return append(out, events.Country{Code: rec.code, Name: rec.name, Score: 0.5, Mentions: ms})
}

func round3(x float64) float64 {
	return math.Round(x*1000) / 1000
}
