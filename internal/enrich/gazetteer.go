package enrich

import (
	"bufio"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

//go:embed data/*.tsv data/*.txt
var embedded embed.FS

// Gazetteer file names. In Options.GazetteerDir a file with one of these
// names replaces the embedded file; a file named <stem>.<anything>.tsv (or
// .txt for word lists) extends it.
var gazetteerFiles = []string{
	"countries.tsv", "places.tsv", "people.tsv", "organizations.tsv",
	"given_names.txt", "nonnames.txt",
}

// Entity classes of gazetteer entries.
const (
	classCountry uint8 = iota + 1
	classPerson
	classOrg
	classStop
)

// Mention kinds (events.Mention.Kind) and the evidence classes used for salience.
const (
	kindName     = "name"
	kindDemonym  = "demonym"
	kindCapital  = "capital"
	kindMetonym  = "metonym"
	kindPlace    = "place"
	kindCurrency = "currency" // reported as metonym; weak evidence
	kindAlias    = "alias"
	kindSurname  = "surname"
	kindAcronym  = "acronym"
)

// Case rules of an entry.
const (
	caseTitle uint8 = iota // tokens capitalised in the surface must be capitalised in the text
	caseExact              // an acronym: every word must be in capitals in the text
	caseLower              // a common noun (yen): lower case or all-capitals text only
)

// entry is one surface form of one entity.
type entry struct {
	class  uint8
	target int32 // index into gazetteer.countries, .people or .orgs
	kind   string
	note   string // historical state mapped to its successor
	rule   uint8
	upper  uint32 // bit i: token i of the surface is capitalised
	ntok   int
	// ambiguous: a one-word person alias that is also the surname of
	// another person in the gazetteer (Stoltenberg); it names nobody alone.
	ambiguous bool
}

type countryRec struct {
	code, name string
}

type entityRec struct {
	name, wikidata, country string
}

// gazetteer is the loaded, immutable set of names the tagger recognises.
type gazetteer struct {
	trie      *trie
	entries   []entry
	surfaces  []string // by entry: the surface of one-word person entries, else ""
	countries []countryRec
	byCode    map[string]int32
	people    []entityRec
	orgs      []entityRec
	// givenNames and nonNames hold normalised single words.
	givenNames map[string]bool
	nonNames   map[string]bool
	// lex holds word-class flags (lexGiven, ...) by vocabulary id, so the
	// rules test a token's class with one slice index.
	lex []uint16
	// langBits holds, by vocabulary id, the set of languages (bit k: stopLangs[k])
	// the word is a function word of.
	langBits []uint32
}

// Word classes of the lexicon.
const (
	lexGiven uint16 = 1 << iota
	lexNonName
	lexTitle
	lexOrg
	lexGeo
	lexParticle
	lexSaid
)

// markAmbiguousAliases flags one-word person aliases that the gazetteers
// give to more than one person: such a word names nobody alone.
func (g *gazetteer) markAmbiguousAliases() {
	owners := map[string]map[int32]bool{}
	for i := range g.entries {
		e := &g.entries[i]
		if e.class == classPerson && e.kind == kindAlias && e.ntok == 1 {
			w := normString(g.aliasText(i))
			if owners[w] == nil {
				owners[w] = map[int32]bool{}
			}
			owners[w][e.target] = true
		}
	}
	for i := range g.entries {
		e := &g.entries[i]
		if e.class == classPerson && e.kind == kindAlias && e.ntok == 1 && len(owners[normString(g.aliasText(i))]) > 1 {
			e.ambiguous = true
		}
	}
}

// aliasText returns the surface of entry i (kept for one-word aliases only).
func (g *gazetteer) aliasText(i int) string { return g.surfaces[i] }

// buildLexicon gives every word of the word lists a vocabulary id and its flags.
func (g *gazetteer) buildLexicon() {
	mark := func(words map[string]bool, f uint16) {
		for w := range words {
			id := g.trie.tokenID(w, true)
			for int(id) >= len(g.lex) {
				g.lex = append(g.lex, 0)
			}
			g.lex[id] |= f
		}
	}
	mark(g.givenNames, lexGiven)
	mark(g.nonNames, lexNonName)
	mark(titleWords, lexTitle)
	mark(orgWords, lexOrg)
	mark(geoWords, lexGeo)
	mark(particles, lexParticle)
	mark(saidWords, lexSaid)
	var langWords []uint32
	for k, l := range stopLangs {
		for _, w := range strings.Fields(stopWords[l]) {
			id := g.trie.tokenID(w, true)
			for int(id) >= len(langWords) {
				langWords = append(langWords, 0)
			}
			langWords[id] |= 1 << uint(k)
		}
	}
	for len(g.lex) <= len(g.trie.vocab) {
		g.lex = append(g.lex, 0)
	}
	g.langBits = make([]uint32, len(g.trie.vocab)+1)
	copy(g.langBits, langWords)
	g.trie.freeze()
}

// loadGazetteer reads the embedded files, then the user's folder.
func loadGazetteer(dir string) (*gazetteer, error) {
	if dir != "" {
		st, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("gazetteer folder: %w", err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("gazetteer folder %s: not a directory", dir)
		}
	}
	g := &gazetteer{
		trie:       newTrie(),
		byCode:     make(map[string]int32),
		givenNames: make(map[string]bool),
		nonNames:   make(map[string]bool),
	}
	for _, name := range gazetteerFiles {
		srcs, err := sources(dir, name)
		if err != nil {
			return nil, err
		}
		for _, s := range srcs {
			if err := g.loadFile(name, s.name, s.open); err != nil {
				return nil, err
			}
		}
	}
	g.markAmbiguousAliases()
	g.buildLexicon()
	return g, nil
}

type source struct {
	name string
	open func() (io.ReadCloser, error)
}

// sources lists the files to read for one gazetteer: the embedded file or its
// replacement in dir, then dir's extensions, in name order.
func sources(dir, name string) ([]source, error) {
	var out []source
	replaced := false
	if dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			replaced = true
			out = append(out, fileSource(p))
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("gazetteer %s: %w", p, err)
		}
	}
	if !replaced {
		out = append(out, source{name: "embedded " + name, open: func() (io.ReadCloser, error) {
			return embedded.Open("data/" + name)
		}})
	}
	if dir != "" {
		ext := filepath.Ext(name)
		stem := strings.TrimSuffix(name, ext)
		matches, err := filepath.Glob(filepath.Join(dir, stem+".*"+ext))
		if err != nil {
			return nil, fmt.Errorf("gazetteer %s: %w", dir, err)
		}
		sort.Strings(matches)
		for _, m := range matches {
			out = append(out, fileSource(m))
		}
	}
	return out, nil
}

func fileSource(p string) source {
	return source{name: p, open: func() (io.ReadCloser, error) { return os.Open(p) }}
}

func (g *gazetteer) loadFile(kind, name string, open func() (io.ReadCloser, error)) error {
	f, err := open()
	if err != nil {
		return fmt.Errorf("open gazetteer %s: %w", name, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" || strings.HasPrefix(text, "#") {
			continue
		}
		cols := strings.Split(text, "\t")
		var err error
		switch kind {
		case "countries.tsv":
			err = g.addCountry(cols)
		case "places.tsv":
			err = g.addPlace(cols)
		case "people.tsv":
			err = g.addPerson(cols)
		case "organizations.tsv":
			err = g.addOrg(cols)
		case "given_names.txt":
			for _, w := range strings.Fields(text) {
				g.givenNames[normString(w)] = true
			}
		case "nonnames.txt":
			for _, w := range strings.Fields(text) {
				g.nonNames[normString(w)] = true
			}
		}
		if err != nil {
			return fmt.Errorf("gazetteer %s line %d: %w", name, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read gazetteer %s: %w", name, err)
	}
	return nil
}

func col(cols []string, i int) string {
	if i < len(cols) {
		return strings.TrimSpace(cols[i])
	}
	return ""
}

func alts(s string) []string {
	var out []string
	for _, a := range strings.Split(s, "|") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

func validCode(code string) bool {
	return len(code) == 2 && code[0] >= 'A' && code[0] <= 'Z' && code[1] >= 'A' && code[1] <= 'Z'
}

// country returns the index of the country with code, adding it with name when new.
func (g *gazetteer) country(code, name string) int32 {
	if i, ok := g.byCode[code]; ok {
		return i
	}
	i := int32(len(g.countries))
	g.countries = append(g.countries, countryRec{code: code, name: name})
	g.byCode[code] = i
	return i
}

// countries.tsv: code, name, aliases, demonyms, capitals, note.
func (g *gazetteer) addCountry(cols []string) error {
	code, name := col(cols, 0), col(cols, 1)
	if !validCode(code) || name == "" {
		return fmt.Errorf("want code and name, got %q", strings.Join(cols, "\t"))
	}
	note := col(cols, 5)
	idx := g.country(code, name)
	add := func(surface, kind string) {
		g.add(surface, entry{class: classCountry, target: idx, kind: kind, note: note})
	}
	add(name, kindName)
	for _, a := range alts(col(cols, 2)) {
		add(a, kindName)
	}
	for _, a := range alts(col(cols, 3)) {
		add(a, kindDemonym)
	}
	for _, a := range alts(col(cols, 4)) {
		add(a, kindCapital)
	}
	return nil
}

// places.tsv: surface, code (or "-"), kind.
func (g *gazetteer) addPlace(cols []string) error {
	surface, code, kind := col(cols, 0), col(cols, 1), col(cols, 2)
	if surface == "" || code == "" {
		return fmt.Errorf("want surface and code, got %q", strings.Join(cols, "\t"))
	}
	if code == "-" || kind == "stop" {
		g.add(surface, entry{class: classStop})
		return nil
	}
	if !validCode(code) {
		return fmt.Errorf("bad country code %q", code)
	}
	switch kind {
	case kindMetonym, kindPlace, kindCurrency, kindCapital:
	default:
		kind = kindPlace
	}
	idx, ok := g.byCode[code]
	if !ok {
		idx = g.country(code, code)
	}
	g.add(surface, entry{class: classCountry, target: idx, kind: kind})
	return nil
}

// people.tsv: name, wikidata id, aliases, country, role.
func (g *gazetteer) addPerson(cols []string) error {
	name := col(cols, 0)
	if name == "" {
		return fmt.Errorf("want a name, got %q", strings.Join(cols, "\t"))
	}
	idx := int32(len(g.people))
	g.people = append(g.people, entityRec{name: name, wikidata: col(cols, 1), country: col(cols, 3)})
	g.add(name, entry{class: classPerson, target: idx, kind: kindName})
	for _, a := range alts(col(cols, 2)) {
		g.add(a, entry{class: classPerson, target: idx, kind: kindAlias})
	}
	return nil
}

// organizations.tsv: name, aliases, wikidata id, country, type.
func (g *gazetteer) addOrg(cols []string) error {
	name := col(cols, 0)
	if name == "" {
		return fmt.Errorf("want a name, got %q", strings.Join(cols, "\t"))
	}
	idx := int32(len(g.orgs))
	g.orgs = append(g.orgs, entityRec{name: name, wikidata: col(cols, 2), country: col(cols, 3)})
	g.add(name, entry{class: classOrg, target: idx, kind: kindName})
	for _, a := range alts(col(cols, 1)) {
		k := kindAlias
		if isAcronym(a) {
			k = kindAcronym
		}
		g.add(a, entry{class: classOrg, target: idx, kind: k})
	}
	return nil
}

// isAcronym reports whether s is written in capitals (dots allowed) with at most 6 letters.
func isAcronym(s string) bool {
	letters := 0
	for _, r := range s {
		switch {
		case r >= 'A' && r <= 'Z':
			letters++
		case r == '.' || r == '-' || r == '&':
		default:
			return false
		}
	}
	return letters >= 2 && letters <= 6
}

// add tokenises surface and inserts it into the trie.
func (g *gazetteer) add(surface string, e entry) {
	toks := tokenize(surface, nil)
	if len(toks) == 0 || len(toks) > 32 {
		return
	}
	ids := make([]uint32, len(toks))
	var buf []byte
	for i, tk := range toks {
		s := surface[tk.start:tk.end]
		if b, changed := normToken(s, buf); changed {
			s = string(b)
		}
		ids[i] = g.trie.tokenID(s, true)
		if tk.is(shapeUpper) {
			e.upper |= 1 << uint(i)
		}
	}
	e.ntok = len(toks)
	switch {
	case len(toks) <= 2 && !strings.Contains(surface, ".") && isAcronym(surface) && len(surface) <= 5:
		e.rule = caseExact
	case len(toks) == 1 && toks[0].is(shapeLower):
		e.rule = caseLower
	default:
		e.rule = caseTitle
	}
	id := int32(len(g.entries))
	g.entries = append(g.entries, e)
	if e.class == classPerson && len(toks) == 1 {
		g.surfaces = append(g.surfaces, surface)
	} else {
		g.surfaces = append(g.surfaces, "")
	}
	g.trie.insert(ids, id)
}

// normString normalises a whole word the way tokens are normalised.
func normString(s string) string {
	if b, changed := normToken(s, nil); changed {
		return string(b)
	}
	return s
}
