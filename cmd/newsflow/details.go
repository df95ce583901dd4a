package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/newsflow/newsflow/internal/store"
)

// printArticleDetails writes each article as a block: time, title, link,
// then every tag of each kind with its score (countries the article is about,
// score >= 0.5, first).
func printArticleDetails(w io.Writer, as []store.Article) {
	for _, a := range as {
		fmt.Fprintf(w, "%s  %s\n", a.Time.UTC().Format("2006-01-02 15:04"), a.Title)
		fmt.Fprintf(w, "    %s\n", a.URL)
		countries := make([]string, len(a.Countries))
		for i, c := range a.Countries {
			countries[i] = fmt.Sprintf("%s %s %.2f", c.Code, c.Name, c.Score)
		}
		topics := make([]string, len(a.Topics))
		for i, t := range a.Topics {
			topics[i] = fmt.Sprintf("%s %.2f", t.ID, t.Score)
		}
		detailLine(w, "countries", countries)
		detailLine(w, "people", scored(a.People))
		detailLine(w, "organizations", scored(a.Organizations))
		detailLine(w, "topics", topics)
		fmt.Fprintln(w)
	}
}

func scored(es []store.EntityTag) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = fmt.Sprintf("%s %.2f", e.Name, e.Score)
	}
	return out
}

func detailLine(w io.Writer, label string, items []string) {
	if len(items) == 0 {
		items = []string{"-"}
	}
	fmt.Fprintf(w, "    %-14s %s\n", label+":", strings.Join(items, ", "))
}
