package enrich

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// langSample is how much text language detection reads.
const langSample = 1024

// Latin-script languages told apart by their most frequent function words.
var stopLangs = []string{"en", "fr", "de", "es", "it", "pt", "nl", "sv", "da", "no", "fi", "pl", "tr", "id", "ro", "cs", "hu"}

// stopWords lists, per language, frequent function words that are rare in
// the others (a short general-knowledge list; words shared by several
// languages count for each).
var stopWords = map[string]string{
	"en": "the of and to in is that for it with as was on are be by this have from or at not but which has had were been their they said will would there after also its an who than",
	"fr": "le la les des et est une du dans pour qui que sur pas au avec sont ce il elle ont mais aux été cette nous leur par plus",
	"de": "der die das und ist nicht ein eine mit sich auf für von dem den zu im auch es wird werden hat sind bei nach wie aus oder noch",
	"es": "el la los las es un una del que en por con para no se al lo su como más pero sus fue ha han esta este entre",
	"it": "il la le gli di che un una per non con del della sono si al dei nel alla anche come più ma ha questo",
	"pt": "os as de que um uma do da em para com não no na se por mais foi são ao dos das pelo também está",
	"nl": "de het een en van is dat op te in niet zijn voor met die er aan ook als bij om door maar naar worden heeft",
	"sv": "och att det som en är på av för med den till inte har de ett om var jag men från vid också sig",
	"da": "og at det som en er på af for med den til ikke har de et om var jeg men fra ved også sig",
	"no": "og at det som en er på av for med den til ikke har de et om var jeg men fra ved også seg",
	"fi": "ja on ei se että hän oli ovat mutta tai kuin myös sen joka ole jo nyt",
	"pl": "na że do nie się jest to jak od po przez dla oraz ale jego są był",
	"tr": "ve bir bu da de ile için olan çok daha gibi ama en olarak sonra değil",
	"id": "dan yang di ini itu dengan untuk tidak dari dalam akan pada juga adalah ke oleh",
	"ro": "și în la cu este de pe nu un care mai din pentru au fost sunt",
	"cs": "je se na že to do jako by pro ale jsou byl také",
	"hu": "az és hogy nem is egy van meg de már csak mint ezt volt",
}

// langDetector holds the stop-word table; it is immutable after newLangDetector.
type langDetector struct {
	words map[string]uint32 // word -> bit set of languages (index in stopLangs)
}

func newLangDetector() *langDetector {
	d := &langDetector{words: make(map[string]uint32)}
	for i, l := range stopLangs {
		for _, w := range strings.Fields(stopWords[l]) {
			d.words[w] |= 1 << uint(i)
		}
	}
	return d
}

// DetectLanguage returns the ISO 639-1 code of the language text is written
// in, or "" when the text is too short or mixed to tell. It reads at most the
// first few kilobytes. Non-Latin scripts are recognised by script (Cyrillic:
// ru or uk; Greek; Arabic: ar or fa; Hebrew; Japanese kana; Hangul; Han: zh;
// Thai; Devanagari: hi); Latin text by function-word frequencies.
func DetectLanguage(text string) string {
	return defaultDetector.detect(text)
}

// defaultDetector is immutable after initialisation.
var defaultDetector = newLangDetector()

func (d *langDetector) detect(text string) string {
	lang, latin := scriptLanguage(text)
	if !latin {
		return lang
	}
	if len(text) > latinSample {
		cut := latinSample
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}
	return d.latin(text)
}

// scriptLanguage names the language of a text written mostly in a
// non-Latin script; latin is true when the text is mostly Latin letters
// (and the language must be told by its words) and false with lang ""
// when there are too few letters to tell.
func scriptLanguage(text string) (lang string, isLatin bool) {
	if len(text) > langSample {
		cut := langSample
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}
	// Fast path: ASCII text is Latin script.
	allASCII, letters := true, 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c >= utf8.RuneSelf {
			allASCII = false
			break
		}
		if letters < 8 && (c|0x20 >= 'a' && c|0x20 <= 'z') {
			letters++
		}
	}
	if allASCII {
		return "", letters >= 8
	}
	var latin, cyr, greek, arabic, persian, hebrew, kana, hangul, han, thai, deva, ukr int
	ascii := 0
	for ascii < len(text) && text[ascii] < utf8.RuneSelf {
		c := text[ascii]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			latin++
		}
		ascii++
	}
	for _, r := range text[ascii:] {
		switch {
		case r < 0x80:
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
				latin++
			}
		case unicode.Is(unicode.Latin, r):
			latin++
		case unicode.Is(unicode.Cyrillic, r):
			cyr++
			if r == 'і' || r == 'ї' || r == 'є' || r == 'ґ' || r == 'І' || r == 'Ї' || r == 'Є' {
				ukr++
			}
		case unicode.Is(unicode.Greek, r):
			greek++
		case unicode.Is(unicode.Arabic, r):
			arabic++
			if r == 'پ' || r == 'چ' || r == 'ژ' || r == 'گ' || r == 'ی' {
				persian++
			}
		case unicode.Is(unicode.Hebrew, r):
			hebrew++
		case unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r):
			kana++
		case unicode.Is(unicode.Hangul, r):
			hangul++
		case unicode.Is(unicode.Han, r):
			han++
		case unicode.Is(unicode.Thai, r):
			thai++
		case unicode.Is(unicode.Devanagari, r):
			deva++
		}
	}
	type script struct {
		n    int
		lang string
	}
	best := script{latin, ""}
	for _, s := range []script{
		{cyr, "ru"}, {greek, "el"}, {arabic, "ar"}, {hebrew, "he"}, {kana + han, "zh"},
		{hangul, "ko"}, {thai, "th"}, {deva, "hi"},
	} {
		if s.n > best.n {
			best = s
		}
	}
	switch {
	case best.n < 8:
		return "", false
	case best.lang == "ru" && ukr*50 > cyr:
		return "uk", false
	case best.lang == "ar" && persian*20 > arabic:
		return "fa", false
	case best.lang == "zh" && kana*10 > han:
		return "ja", false
	case best.lang != "":
		return best.lang, false
	}
	return "", true
}

// latinSample is how much Latin-script text the function-word count reads.
const latinSample = 1024

// latin scores Latin-script text by function words.
func (d *langDetector) latin(text string) string {
	var counts [32]int
	total := 0
	var buf []byte
	i := 0
	for i < len(text) {
		c := text[i]
		if c < utf8.RuneSelf {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				i++
				continue
			}
		} else if r, size := utf8.DecodeRuneInString(text[i:]); !unicode.IsLetter(r) {
			i += size
			continue
		}
		j := i
		for j < len(text) {
			c := text[j]
			if c < utf8.RuneSelf {
				if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
					j++
					continue
				}
				break
			}
			r, size := utf8.DecodeRuneInString(text[j:])
			if !unicode.IsLetter(r) {
				break
			}
			j += size
		}
		w := text[i:j]
		i = j
		total++
		var set uint32
		if b, changed := normToken(w, buf); changed {
			buf = b
			set = d.words[string(b)]
		} else {
			set = d.words[w]
		}
		if set != 0 {
			for k := range stopLangs {
				if set&(1<<uint(k)) != 0 {
					counts[k]++
				}
			}
		}
		// Early exit: clearly English after a few dozen words.
		if total >= 40 && total%20 == 0 && counts[0]*100 >= total*20 {
			clear := true
			for k := 1; k < len(stopLangs); k++ {
				if counts[k]*3 >= counts[0]*2 {
					clear = false
					break
				}
			}
			if clear {
				return "en"
			}
		}
	}
	return decideLatin(counts[:], total)
}

// decideLatin picks a language from function-word counts (indexed like
// stopLangs) over total words: English unless another language has clearly
// more function words, since headlines, tables and lists of names have few
// and must not flip.
func decideLatin(counts []int, total int) string {
	en := counts[0]
	best, bestN := -1, 0
	for k := 1; k < len(stopLangs); k++ {
		if counts[k] > bestN {
			best, bestN = k, counts[k]
		}
	}
	switch {
	case best > 0 && bestN >= 4 && bestN*100 >= total*8 && bestN >= 2*en+1:
		return stopLangs[best]
	case en >= 2 && en*100 >= total*3:
		return "en"
	}
	return ""
}
