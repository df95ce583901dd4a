package enrich

import (
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/newsflow/newsflow/pkg/events"
)

var (
	// titleWords precede a person's name: honorifics, offices and roles.
	titleWords = setOf("mr", "mrs", "ms", "miss", "dr", "sir", "dame", "lord", "lady", "president", "vice",
		"premier", "chancellor", "minister", "secretary", "senator", "sen", "rep", "representative", "congressman",
		"congresswoman", "gov", "governor", "mayor", "general", "gen", "admiral", "adm", "colonel", "col",
		"lieutenant", "lt", "major", "maj", "captain", "capt", "sergeant", "sgt", "commander", "marshal",
		"king", "queen", "prince", "princess", "emperor", "sheikh", "shaikh", "emir", "sultan", "ayatollah",
		"pope", "cardinal", "archbishop", "bishop", "rev", "reverend", "father", "rabbi", "imam", "judge",
		"justice", "ambassador", "envoy", "spokesman", "spokeswoman", "spokesperson", "chairman", "chairwoman",
		"chair", "director", "chief", "leader", "official", "officials", "economist", "analyst", "dealer",
		"trader", "executive", "officer", "manager", "coach", "striker", "midfielder", "defender", "goalkeeper",
		"keeper", "forward", "winger", "captain", "skipper", "batsman", "bowler", "pitcher", "quarterback",
		"champion", "player", "driver", "rider", "seed", "compatriot", "teammate", "veteran", "opener",
		"professor", "prof", "dictator", "strongman", "founder", "owner", "candidate", "challenger", "incumbent",
		"president-elect", "premier-elect", "deputy", "aide", "adviser", "advisor", "counsel", "attorney",
		"lawyer", "prosecutor", "commissioner", "inspector", "superintendent", "detective", "agent", "diplomat",
		"negotiator", "mediator", "colleague", "husband", "wife", "son", "daughter", "brother", "sister",
		"uncle", "widow", "actor", "actress", "singer", "author", "writer", "journalist", "correspondent",
		"editor", "columnist", "spokesmen", "trainer", "jockey", "boxer", "cyclist", "runner", "sprinter",
		"swimmer", "golfer", "skier", "batter", "fullback", "centre", "center", "guard", "opponent", "rival",
		"dutchman", "frenchman", "german", "american", "briton", "italian", "spaniard", "australian", "russian",
		"speaker", "whip", "treasurer", "comptroller", "undersecretary", "under-secretary", "assistant", "acting",
		"interim", "former", "ex", "late", "premier", "governor-general", "mp", "legislator", "lawmaker",
		"congressman", "delegate", "monsignor", "patriarch", "chancellor")
	// saidWords follow a person's name.
	saidWords = setOf("said", "says", "told", "added", "stated", "asked", "replied", "wrote", "argued",
		"explained", "noted", "insisted", "warned", "announced", "declared", "confirmed", "denied", "admitted",
		"acknowledged", "recalled", "urged", "predicted", "estimated", "believes", "thinks", "testified")
	// orgWords end or mark organisation, place and event names: a run holding one is not a person.
	orgWords = setOf("corp", "corporation", "inc", "co", "company", "ltd", "plc", "llc", "ag", "sa", "nv", "bv",
		"gmbh", "spa", "group", "holdings", "holding", "bank", "bancorp", "trust", "fund", "funds", "partners",
		"securities", "capital", "financial", "insurance", "industries", "international", "national", "federal",
		"association", "federation", "union", "council", "committee", "commission", "authority", "agency",
		"ministry", "department", "office", "bureau", "institute", "university", "college", "school", "academy",
		"hospital", "church", "party", "front", "movement", "army", "navy", "force", "forces", "police", "guard",
		"court", "congress", "senate", "house", "assembly", "parliament", "government", "administration",
		"exchange", "index", "market", "markets", "airlines", "airways", "airport", "motors", "oil", "gas", "energy",
		"petroleum", "power", "electric", "systems", "technologies", "technology", "communications", "services",
		"foundation", "centre", "center", "hotel", "square", "bridge", "tower", "palace", "hall", "castle", "road",
		"street", "avenue", "park", "stadium", "arena", "cup", "league", "club", "united", "city", "county",
		"rovers", "wanderers", "athletic", "olympic", "olympics", "games", "open", "championship", "championships",
		"prix", "trophy", "series", "tour", "festival", "award", "awards", "prize", "times", "news", "post",
		"journal", "herald", "tribune", "gazette", "press", "radio", "television", "tv", "network", "magazine",
		"island", "islands", "river", "lake", "mountain", "mountains", "sea", "ocean", "bay", "gulf", "valley",
		"province", "state", "states", "republic", "kingdom", "empire", "region", "district", "airbase", "base",
		"port", "station", "building", "centers", "mines", "mining", "steel", "chemical", "chemicals", "foods",
		"products", "stores", "resources", "minerals", "realty", "properties", "investment", "investments",
		"associates", "brothers", "bros", "laboratories", "labs", "pharmaceuticals", "computer", "computers",
		"software", "data", "telecom", "telephone", "rail", "railway", "railways", "shipping", "lines", "express",
		"reserve", "treasury", "budget", "act", "bill", "law", "treaty", "accord", "agreement", "plan", "war",
		"day", "week", "year", "program", "programme", "project", "initiative", "council", "alliance", "coalition",
		"organisation", "organization", "institution", "society", "unit", "division", "brigade", "battalion",
		"regiment", "fleet", "command", "corps", "squad", "team", "fc", "afc", "sc", "ac", "cf", "bc", "hc", "l.p.", "lp",
		"north", "south", "east", "west", "northern", "southern", "eastern", "western", "central", "new", "old",
		"great", "upper", "lower", "greater", "democratic", "republican", "socialist", "communist", "liberal",
		"conservative", "labour", "labor", "christian", "islamic", "muslim", "catholic", "jewish", "ministers",
		"secretariat", "cabinet", "supreme", "high", "general", "first", "second", "third", "royal",
		"caisse", "banque", "banco", "banca", "credit", "credito", "societe", "compagnie", "nationale", "generale",
		"bourse", "sociedad", "compania", "industrie", "werke", "gesellschaft", "kabushiki", "kaisha",
		"cie", "financiere", "works", "tire", "cos", "strait", "basin", "requirement", "bulletin", "acquisition",
		"partnership", "san", "santa", "sao", "santo", "saint", "fort", "mount", "cape")
	// geoWords follow a place name in a longer place name (Jordan Valley).
	geoWords = setOf("river", "valley", "basin", "sea", "lake", "mountains", "bay", "gulf", "strait", "straits",
		"island", "islands", "peninsula", "desert", "plain", "plains", "delta", "coast", "border", "highlands")
	// particles join the parts of a name (Ludwig van Beethoven, Osama bin Laden).
	particles = setOf("van", "von", "de", "der", "den", "da", "di", "du", "la", "le", "al", "bin", "ibn",
		"el", "ben", "dos", "das", "del", "della", "y", "ter", "ten", "abu", "bint")
)

// nameRun is a candidate person name: tokens [s,e).
type nameRun struct {
	s, e  int32
	words int
}

// personAcc accumulates one person of the article.
type personAcc struct {
	name, wikidata string
	tokens         []string // normalised words of the name
	mentions       []events.Mention
	inTitle        bool
	inLead         bool
	gazetteer      bool
}

// findPeople finds people: gazetteer names, then name-shaped runs with
// evidence (a given name, a title or role, a reporting verb), then later
// mentions by surname.
func (d *doc) findPeople() []events.Entity {
	s := d.s
	var people []*personAcc
	byName := map[string]*personAcc{}
	get := func(name, wikidata string, gaz bool) *personAcc {
		if p := byName[name]; p != nil {
			return p
		}
		p := &personAcc{name: name, wikidata: wikidata, gazetteer: gaz}
		for _, f := range strings.Fields(strings.NewReplacer("-", " ", ".", " ").Replace(name)) {
			p.tokens = append(p.tokens, normString(f))
		}
		byName[name] = p
		people = append(people, p)
		return p
	}
	addMention := func(p *personAcc, si, ei int, kind string) {
		start, end := int(s.toks[si].start), int(s.toks[ei-1].end)
		// Trim a trailing dot that belongs to the sentence (but keep initials).
		for end > start && d.text[end-1] == '.' && ei-si > 1 {
			tk := s.toks[ei-1]
			if tk.is(shapeDots) {
				break
			}
			end--
		}
		p.mentions = append(p.mentions, events.Mention{Start: start, End: end, Surface: d.text[start:end], Kind: kind})
		if start < d.titleEnd {
			p.inTitle = true
		} else if start < d.leadEnd {
			p.inLead = true
		}
	}
	// 1. Gazetteer people.
	for mi := range s.matches {
		m := &s.matches[mi]
		if m.person < 0 || m.dropped {
			continue
		}
		e := &d.g.entries[m.person]
		if e.ambiguous {
			m.person = -1 // a shared surname: left to surname attachment
			if m.country < 0 && m.org < 0 {
				m.dropped = true
			}
			continue
		}
		rec := d.g.people[e.target]
		if e.kind == kindAlias && m.e-m.s == 1 && d.sentenceInitial(int(m.s)) && s.toks[m.s].is(shapeUpper) && d.g.nonNames[d.tokNorm(int(m.s))] {
			continue
		}
		m.country, m.org = -1, -1
		// "Robert Dole" where the gazetteer knows "Dole": the given name belongs to the mention.
		if prev := int(m.s) - 1; m.e-m.s == 1 && prev >= 0 && s.cover[prev] < 0 && d.lex(prev)&lexGiven != 0 &&
			s.toks[prev].is(shapeUpper) && adjacent(d.text, s.toks[prev], s.toks[m.s]) {
			s.cover[prev] = int32(mi)
			m.s = int32(prev)
		}
		p := get(rec.name, rec.wikidata, true)
		kind := kindName
		if e.kind == kindAlias {
			kind = kindAlias
			if m.e-m.s == 1 {
				kind = kindSurname
			}
		}
		addMention(p, int(m.s), int(m.e), kind)
	}
	// 2. Name-shaped runs outside gazetteer matches.
	runs := d.nameRuns()
	var singles []nameRun
	// Names that appear elsewhere as organisations ("Acme Widgets Inc") are not people.
	var orgNames map[string]bool
	for _, r := range runs {
		if r.words >= 2 && d.orgFollows(r) {
			if orgNames == nil {
				orgNames = map[string]bool{}
			}
			orgNames[d.runName(r)] = true
		}
	}
	for _, r := range runs {
		name, ok := d.classifyRun(r)
		if ok && orgNames[name] {
			continue
		}
		if !ok {
			if r.words == 1 {
				singles = append(singles, r)
			}
			continue
		}
		if r.words == 1 {
			// A title with a single name ("President Reagan"): maybe a surname of someone found.
			singles = append(singles, r)
			continue
		}
		p := get(name, "", false)
		addMention(p, int(r.s), int(r.e), kindName)
	}
	// 3. Single words: surnames (or family names first: Kim) of people found.
	surname := map[string]*personAcc{}
	firstName := map[string]*personAcc{}
	for _, p := range people {
		if len(p.tokens) < 2 {
			continue
		}
		last := p.tokens[len(p.tokens)-1]
		if len(last) < 2 {
			continue
		}
		if q, ok := surname[last]; ok && q != p {
			surname[last] = nil // ambiguous
		} else {
			surname[last] = p
		}
		f := p.tokens[0]
		if len(f) >= 2 && (len(p.tokens) >= 3 || !d.g.givenNames[f]) {
			if q, ok := firstName[f]; ok && q != p {
				firstName[f] = nil
			} else {
				firstName[f] = p
			}
		}
	}
	for _, r := range singles {
		w := d.tokNorm(int(r.s))
		p := surname[w]
		if p == nil {
			p = firstName[w]
		}
		if p != nil {
			addMention(p, int(r.s), int(r.e), kindSurname)
			continue
		}
		if _, ok := surname[w]; ok {
			continue // ambiguous surname
		}
		if _, ok := d.classifyRun(r); ok {
			p := get(d.runName(r), "", false)
			addMention(p, int(r.s), int(r.e), kindName)
		}
	}
	// Single-word country or place matches that are surnames of people found (Jordan).
	for mi := range s.matches {
		m := &s.matches[mi]
		if m.country < 0 || m.dropped || m.e-m.s != 1 || s.caps[m.s] {
			continue
		}
		w := d.tokNorm(int(m.s))
		if p := surname[w]; p != nil && d.g.entries[m.country].kind != kindDemonym {
			m.dropped = true
			addMention(p, int(m.s), int(m.e), kindSurname)
		}
	}
	// Capitals lines (headlines): surnames written in capitals.
	for i, tk := range s.toks {
		if !s.caps[i] || !tk.is(shapeAllCap) || s.cover[i] >= 0 {
			continue
		}
		if p := surname[d.tokNorm(i)]; p != nil {
			addMention(p, i, i+1, kindSurname)
		}
	}
	people = mergeSuffixNames(people)
	return d.personEntities(people)
}

// mergeSuffixNames moves the mentions of a detected name that ends another,
// longer name of the same article ("Bra Kanon" of "Denis Bra Kanon") to the
// longer one, when only one longer name fits.
func mergeSuffixNames(people []*personAcc) []*personAcc {
	out := people[:0]
	for _, p := range people {
		if p.gazetteer || len(p.tokens) < 2 {
			out = append(out, p)
			continue
		}
		var into *personAcc
		n := 0
		for _, q := range people {
			if q != p && len(q.tokens) > len(p.tokens) && slices.Equal(q.tokens[len(q.tokens)-len(p.tokens):], p.tokens) {
				into = q
				n++
			}
		}
		if n != 1 {
			out = append(out, p)
			continue
		}
		into.mentions = append(into.mentions, p.mentions...)
		into.inTitle = into.inTitle || p.inTitle
		into.inLead = into.inLead || p.inLead
	}
	return out
}

func (d *doc) personEntities(people []*personAcc) []events.Entity {
	total := 0
	for _, p := range people {
		total += len(p.mentions)
	}
	out := make([]events.Entity, 0, len(people))
	for _, p := range people {
		if len(p.mentions) == 0 {
			continue
		}
		sort.Slice(p.mentions, func(i, j int) bool { return p.mentions[i].Start < p.mentions[j].Start })
		out = append(out, events.Entity{
			Name:       p.name,
			Score:      entityScore(len(p.mentions), total, p.inTitle, p.inLead),
			Mentions:   p.mentions,
			WikidataID: p.wikidata,
		})
	}
	sortEntities(out)
	return out
}

// entityScore is the salience of a person or organization.
func entityScore(n, total int, inTitle, inLead bool) float64 {
	score := 0.1
	if inTitle {
		score += 0.4
	}
	if inLead {
		score += 0.25
	}
	if total > 0 {
		score += 0.25 * float64(n) / float64(total)
	}
	switch {
	case n >= 4:
		score += 0.2
	case n >= 2:
		score += 0.1
	}
	return round3(math.Min(score, 1))
}

func sortEntities(es []events.Entity) {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Score != es[j].Score {
			return es[i].Score > es[j].Score
		}
		return es[i].Name < es[j].Name
	})
}

// isNameWord reports whether token i can be part of a person's name.
func (d *doc) isNameWord(i int) bool {
	s := d.s
	tk := s.toks[i]
	if !tk.is(shapeWord) || !tk.is(shapeUpper) || s.cover[i] >= 0 && !s.matches[s.cover[i]].dropped {
		return false
	}
	if s.caps[i] || tk.is(shapeAllCap) {
		return false
	}
	f := d.lex(i)
	if f&lexNonName != 0 || f&lexTitle != 0 && f&lexGiven == 0 {
		return false
	}
	return true
}

// nameRuns lists maximal runs of name words (with particles, hyphens,
// apostrophes and initials inside).
func (d *doc) nameRuns() []nameRun {
	s := d.s
	runs := s.runs[:0]
	n := len(s.toks)
	for i := 0; i < n; {
		start := i
		// An initial before a surname: "A. Smith", "J.P. Morgan" ("A" alone is a word).
		if i+2 < n && d.isInitial(i) && d.isNameWord(i+2) && adjacent(d.text, s.toks[i+1], s.toks[i+2]) {
			i += 2
		} else if s.toks[i].is(shapeDots) && s.toks[i].is(shapeUpper) && !s.caps[i] && s.cover[i] < 0 && i+1 < n && d.isNameWord(i+1) && adjacent(d.text, s.toks[i], s.toks[i+1]) {
			i++
		}
		if !d.isNameWord(i) {
			i = start + 1
			continue
		}
		j := i + 1
		words := 1
		for j < n && words < 5 {
			tk := s.toks[j]
			prevTk := s.toks[j-1]
			if !adjacent(d.text, prevTk, tk) || tk.lineStart && !d.hardWrapped(j) {
				break
			}
			w := d.tokText(j)
			tight := tk.start == prevTk.end
			switch {
			case d.isNameWord(j):
				j++
				words++
				continue
			case (w == "-" || w == "'" || w == "\u2019") && tight && j+1 < n && s.toks[j+1].start == tk.end && s.toks[j+1].is(shapeWord) &&
				!(w != "-" && (d.tokText(j+1) == "s" || d.tokText(j+1) == "S")): // not the possessive 's
				// Jean-Pierre, Kim Jong-un, O'Brien
				j += 2
				continue
			case w == "." && tight && prevTk.end-prevTk.start == 1 && prevTk.is(shapeUpper) && j+1 < n && d.isNameWord(j+1):
				j++ // an initial: George W. Bush
				continue
			case d.lex(j)&lexParticle != 0 && j+1 < n && d.isNameWord(j+1) && tk.is(shapeLower):
				j++
				continue
			}
			break
		}
		if start < i {
			words++ // the initial
		}
		// "Drummer Chad Smith": a capitalised sentence-initial word before a given name.
		if start == i && words >= 3 && d.sentenceInitial(i) && d.lex(i)&lexGiven == 0 && d.lex(i+1)&lexGiven != 0 && s.toks[i+1].is(shapeWord) {
			start++
			words--
		}
		runs = append(runs, nameRun{s: int32(start), e: int32(j), words: words})
		i = j
	}
	// Drop a leading capitalised sentence-initial word that is not a given name
	// when the rest is itself a name ("Analyst John Smith" is handled by titles).
	s.runs = runs
	return runs
}

// afterFunctionWord reports whether the word before token i is "of", "the",
// "and", "for" or "&" (the end of an organisation's name: "Ministry of Industry said").
func (d *doc) afterFunctionWord(i int) bool {
	p := d.prevWord(i)
	if i > 0 && d.tokText(i-1) == "&" {
		return true
	}
	if p < 0 {
		return false
	}
	switch d.tokText(p) {
	case "of", "the", "and", "for", "Of", "The", "And", "For":
		return true
	}
	return false
}

// orgFollows reports whether an organisation or place word follows the run
// ("Acme Widgets Inc", "Grace Road").
func (d *doc) orgFollows(r nameRun) bool {
	s := d.s
	nx := int(r.e)
	return nx < len(s.toks) && s.toks[nx].is(shapeUpper) && d.lex(nx)&lexOrg != 0 && adjacent(d.text, s.toks[nx-1], s.toks[nx])
}

// isInitial reports whether token i is a capital letter followed by a dot.
func (d *doc) isInitial(i int) bool {
	s := d.s
	tk := s.toks[i]
	return tk.end-tk.start == 1 && tk.is(shapeUpper) && !s.caps[i] && i+1 < len(s.toks) &&
		s.toks[i+1].start == tk.end && d.text[tk.end] == '.'
}

// runName returns the text of a run with whitespace normalised.
func (d *doc) runName(r nameRun) string {
	start, end := int(d.s.toks[r.s].start), int(d.s.toks[r.e-1].end)
	name := d.text[start:end]
	if strings.ContainsAny(name, "\n\t  ") {
		name = strings.Join(strings.Fields(name), " ")
	}
	return name
}

// classifyRun decides whether a run names a person, and returns the name.
func (d *doc) classifyRun(r nameRun) (string, bool) {
	s := d.s
	first := int(r.s)
	// Evidence before the run.
	hasTitle := false
	if p := d.prevWord(first); p >= 0 && p >= first-2 {
		if d.lex(p)&lexTitle != 0 {
			hasTitle = true
		}
	}
	// Evidence after the run.
	said := false
	sports := false
	if nx := int(r.e); nx < len(s.toks) {
		w := d.tokText(nx)
		switch {
		case d.lex(nx)&lexSaid != 0 && s.toks[nx].is(shapeLower):
			said = true
		case w == "," && nx+2 < len(s.toks):
			// "Smith, a spokesman," / "Smith, 45,"
			w2 := d.tokText(nx + 1)
			if (w2 == "a" || w2 == "an" || w2 == "the" || w2 == "who") || s.toks[nx+1].is(shapeDigit) {
				said = true
			}
		case w == "(" && nx+2 < len(s.toks):
			sports = true
		}
	}
	orgish := false
	for i := first; i < int(r.e); i++ {
		if d.lex(i)&lexOrg != 0 {
			orgish = true
			break
		}
	}
	if d.orgFollows(r) {
		orgish = true
	}
	if orgish {
		return "", false
	}
	if r.words == 1 && s.toks[r.e-1].end-s.toks[first].start < 2 {
		return "", false
	}
	given := d.lex(first)&lexGiven != 0
	initial := d.sentenceInitial(first)
	if d.titleCase && int(s.toks[first].start) < d.titleEnd {
		// A title-case headline capitalises every word: only a given name counts.
		return d.runName(r), r.words >= 2 && given
	}
	switch {
	case r.words >= 2 && d.isInitial(first):
	case r.words >= 2 && given:
	case hasTitle:
	case r.words >= 2 && (said || sports):
	case r.words >= 2 && r.words <= 3 && (!initial || d.followedByLower(r)) && d.nameShaped(r):
	case r.words == 1 && said && !initial && !d.afterFunctionWord(first):
	default:
		return "", false
	}
	return d.runName(r), true
}

// followedByLower reports whether the word after a run is in lower case (a
// verb or preposition: "Nolan Henke shot"), as a sentence-initial name is.
func (d *doc) followedByLower(r nameRun) bool {
	nx := int(r.e)
	return nx < len(d.s.toks) && d.s.toks[nx].is(shapeLower) && !d.s.toks[nx].lineStart
}

// nameShaped reports whether every word of a run looks like a name part:
// letters only, a capital then lower case, at least two letters.
func (d *doc) nameShaped(r nameRun) bool {
	for i := int(r.s); i < int(r.e); i++ {
		tk := d.s.toks[i]
		if !tk.is(shapeWord) {
			continue
		}
		if tk.is(shapeDigit) || tk.is(shapeAllCap) || tk.end-tk.start < 2 && !tk.is(shapeUpper) {
			return false
		}
	}
	return true
}
