package enrich

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/newsflow/newsflow/pkg/events"
)

func TestPlainText(t *testing.T) {
	tests := []struct {
		name, title, body, want string
	}{
		{"plain", "Title", "Body text.", "Title\n\nBody text."},
		{"paragraphs", "T", "<p>One &amp; two.</p><p>Three</p>", "T\n\nOne & two.\n\nThree"},
		{"br", "T", "a<br>b<br/>c", "T\n\na\nb\nc"},
		{"scripts and styles", "T", "<style>p{color:red}</style><p>Keep</p><script>var x = '<p>no</p>';</script>", "T\n\nKeep"},
		{"comments", "T", "before<!-- hidden <p> -->after", "T\n\nbeforeafter"},
		{"entities", "T &amp; U", "caf&eacute; &#8211; &lt;tag&gt; &nbsp;x", "T & U\n\ncafé – <tag> x"},
		{"attributes with >", "T", `<a href="x>y" title='a>b'>link</a> text`, "T\n\nlink text"},
		{"whitespace collapses", "  T  ", "<div>  a \n\t b  </div>", "T\n\na b"},
		{"list items", "T", "<ul><li>one</li><li>two</li></ul>", "T\n\none\n\ntwo"},
		{"title with tags", "<b>Bold</b> title", "x", "Bold title\n\nx"},
		{"plain keeps lines", "T", "line one\nline two", "T\n\nline one\nline two"},
		{"CRLF", "T", "a\r\nb", "T\n\na\nb"},
		{"invalid utf8", "T", "a\xffb", "T\n\na\uFFFDb"},
		{"unclosed tag", "T", "a <b", "T\n\na <b"},
		{"less than in text", "T", "3 < 4 and 5 > 2", "T\n\n3 < 4 and 5 > 2"},
		{"empty", "", "", "\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, bodyStart := PlainText(tt.title, tt.body)
			if got != tt.want {
				t.Errorf("PlainText = %q, want %q", got, tt.want)
			}
			if bodyStart > len(got) || got[bodyStart-2:bodyStart] != "\n\n" {
				t.Errorf("bodyStart %d does not follow the blank line in %q", bodyStart, got)
			}
		})
	}
}

// checkSpans verifies the span rules of the contract on every tag.
func checkSpans(t *testing.T, out events.EnrichedArticle) {
	t.Helper()
	if err := out.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if !utf8.ValidString(out.Text) {
		t.Fatalf("text is not valid UTF-8: %q", out.Text)
	}
	check := func(what string, ms []events.Mention) {
		for _, m := range ms {
			if !utf8.ValidString(m.Surface) || m.Surface == "" {
				t.Fatalf("%s: bad surface %q", what, m.Surface)
			}
			if m.Start > 0 && !utf8.RuneStart(out.Text[m.Start]) || m.End < len(out.Text) && !utf8.RuneStart(out.Text[m.End]) {
				t.Fatalf("%s: span [%d,%d) splits a rune", what, m.Start, m.End)
			}
		}
	}
	for _, c := range out.Countries {
		check(c.Code, c.Mentions)
		if len(c.Mentions) == 0 {
			t.Fatalf("country %s without mentions", c.Code)
		}
	}
	for _, e := range append(append([]events.Entity{}, out.People...), out.Organizations...) {
		check(e.Name, e.Mentions)
		if len(e.Mentions) == 0 || strings.TrimSpace(e.Name) == "" {
			t.Fatalf("entity %q without mentions or name", e.Name)
		}
	}
}

func FuzzPlainText(f *testing.F) {
	for _, s := range []string{"", "plain", "<p>a</p><p>b</p>", "<script>x</script>y", "a&amp;b&#xZZ;", "<a href='>'>x</a>", "<!--", "<![CDATA[x]]>", "\xff\xfe", "<br/><br/>", "é<b>ü</b>"} {
		f.Add("title", s)
	}
	f.Fuzz(func(t *testing.T, title, body string) {
		text, bodyStart := PlainText(title, body)
		if !utf8.ValidString(text) {
			t.Fatalf("invalid UTF-8 output for %q", body)
		}
		if bodyStart < 2 || bodyStart > len(text) || text[bodyStart-2:bodyStart] != "\n\n" {
			t.Fatalf("bodyStart %d wrong in %q", bodyStart, text)
		}
		if strings.Contains(text[:bodyStart-2], "\n") {
			t.Fatalf("title spans lines: %q", text[:bodyStart])
		}
	})
}

func FuzzEnrich(f *testing.F) {
	tg, err := New(Options{})
	if err != nil {
		f.Fatal(err)
	}
	for _, a := range readArticles(f, "testdata/fixture.jsonl") {
		f.Add(a.Title, a.Content)
	}
	for _, a := range readArticles(f, "testdata/seed.jsonl") {
		f.Add(a.Title, a.Content)
	}
	f.Add("LET US PRAY", "U.S.-led Kim Jong-un O'Brien A. B. C. Jr. St. Louis, Mo.")
	f.Add("", "Mr. \n\nX said \u201cY\u201d \u00e9\u0301 \xff")
	f.Fuzz(func(t *testing.T, title, body string) {
		out := tg.Enrich(rawArticle("f", title, body), testNow)
		checkSpans(t, out)
		checkAppendJSON(t, out)
	})
}

// TestFixtureSpans runs the contract checks on every fixture article.
func TestFixtureSpans(t *testing.T) {
	tg := newTestTagger(t)
	for _, p := range []string{"testdata/fixture.jsonl", "testdata/seed.jsonl"} {
		for _, a := range readArticles(t, p) {
			checkSpans(t, tg.Enrich(a, testNow))
		}
	}
}
