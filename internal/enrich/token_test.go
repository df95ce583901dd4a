package enrich

import (
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestTokenize(t *testing.T) {
	text := "The U.S. and U.K. met in St. Louis, Mo. O'Brien's Kim Jong-un said: 3.5 pct\nNEW YORK"
	var got []string
	for _, tk := range tokenize(text, nil) {
		got = append(got, text[tk.start:tk.end])
	}
	want := []string{"The", "U.S.", "and", "U.K.", "met", "in", "St", ".", "Louis", ",", "Mo", ".", "O", "'", "Brien", "'", "s",
		"Kim", "Jong", "-", "un", "said", ":", "3", ".", "5", "pct", "NEW", "YORK"}
	if len(got) != len(want) {
		t.Fatalf("tokens %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("token %d = %q, want %q (all: %q)", i, got[i], want[i], got)
		}
	}
}

// FuzzScanWord checks the ASCII fast path of scanWord against the general one.
func FuzzScanWord(f *testing.F) {
	for _, s := range []string{"U.S.", "A. Smith", "abc", "ABC1", "x.y", "Zürich", "a.", "NEW YORK", "e\u0301t\u00e9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for i := 0; i < len(s); {
			r, size := utf8.DecodeRuneInString(s[i:])
			if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) {
				j1, sh1 := scanWord(s, i)
				j2, sh2 := scanWordSlow(s, i)
				if j1 != j2 || sh1 != sh2 {
					t.Fatalf("scanWord(%q, %d) = %d,%b; slow path %d,%b", s, i, j1, sh1, j2, sh2)
				}
				if j1 <= i {
					t.Fatalf("no progress at %d in %q", i, s)
				}
				i = j1
				continue
			}
			i += size
		}
	})
}
