package feed

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

const articlePage = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Baltic states agree joint air-defence procurement</title></head>
<body><nav><a href="/">Home</a> | <a href="/world">World</a> | <a href="/sport">Sport</a></nav>
<aside class="sidebar">Most read: celebrity news, recipes, weather.</aside>
<article><h1>Baltic states agree joint air-defence procurement</h1>
<p>Estonia, Latvia and Lithuania will buy medium-range air-defence systems together, their defence ministers said in Riga on Wednesday, in a move meant to cut costs and speed up deliveries.</p>
<p>The three countries, which border Russia or its ally Belarus, have sharply raised military spending since 2022. The joint order covers launchers, radars and interceptor missiles, officials said.</p>
<p>Lithuania's defence minister said the first batteries could arrive within two years, and that the countries would also share training and maintenance facilities to save money.</p>
<p>Latvia's minister added that the systems would be integrated with NATO's air-defence network over the Baltic region.</p>
</article>
<footer>© Harbour Times. Cookie settings. Subscribe.</footer></body></html>`

func TestFullText(t *testing.T) {
	srv := newFeedServer(t)
	feed := fmt.Sprintf(`<?xml version="1.0"?><rss version="2.0"><channel><title>Summaries</title><link>%[1]s/</link>
<item><title>Baltic states agree joint air-defence procurement</title><link>%[1]s/article/1</link><guid>a1</guid><description>Short summary only.</description></item>
<item><title>Missing page</title><link>%[1]s/article/404</link><guid>a2</guid><description>Gone.</description></item>
</channel></rss>`, srv.srv.URL)
	srv.set("/summaries.xml", served{body: []byte(feed)})
	srv.set("/article/1", served{body: []byte(articlePage), ctype: "text/html; charset=utf-8", gzip: true})
	cfg := testConfig(t, "feeds:\n  - url: "+srv.url("/summaries.xml")+"\n    full_text: true\n  - url: "+srv.url("/plain.xml")+"\n")
	srv.set("/plain.xml", served{body: readTestdata(t, "atom03.xml")})
	pub := &recPublisher{}
	h := start(t, cfg, pub)
	eventually(t, "publish", func() bool { return pub.count() == 3 })
	h.stop()
	by := map[string]string{}
	sum := map[string]string{}
	for _, a := range pub.got() {
		by[a.GUID], sum[a.GUID] = a.Content, a.Summary
	}
	if c := by["a1"]; !strings.Contains(c, "share training and maintenance") || strings.Contains(c, "Cookie settings") || strings.Contains(c, "<p>") {
		t.Errorf("extracted content = %q", c)
	}
	if sum["a1"] != "Short summary only." {
		t.Errorf("summary = %q, want the feed's text", sum["a1"])
	}
	if by["a2"] != "" || sum["a2"] != "Gone." {
		t.Errorf("failed page: content %q summary %q", by["a2"], sum["a2"])
	}
	if len(srv.requests("/article/1")) != 1 {
		t.Errorf("article page requested %d times", len(srv.requests("/article/1")))
	}
	if got := testutil.ToFloat64(h.f.m.fullText.WithLabelValues(string(ClassOK))); got != 1 {
		t.Errorf("fulltext{ok} = %v", got)
	}
	if got := testutil.ToFloat64(h.f.m.fullText.WithLabelValues(string(ClassHTTP4xx))); got != 1 {
		t.Errorf("fulltext{http_4xx} = %v", got)
	}
	// The plain feed (full text off) fetched no page.
	for _, a := range pub.got() {
		if a.GUID == "tag:legacy-atom.example,2026:border" && a.Content != "" {
			t.Errorf("full text ran on a feed with it off: %q", a.Content)
		}
	}
}
