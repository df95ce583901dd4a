package enrich

import (
	"github.com/newsflow/newsflow/pkg/events"
)

// organizations aggregates gazetteer organization matches.
func (d *doc) organizations() []events.Entity {
	s := d.s
	type acc struct {
		rec             entityRec
		mentions        []events.Mention
		inTitle, inLead bool
	}
	var accs []*acc
	by := map[int32]*acc{}
	total := 0
	for _, m := range s.matches {
		if m.org < 0 || m.dropped {
			continue
		}
		e := &d.g.entries[m.org]
		a := by[e.target]
		if a == nil {
			a = &acc{rec: d.g.orgs[e.target]}
			by[e.target] = a
			accs = append(accs, a)
		}
		start, end := int(s.toks[m.s].start), int(s.toks[m.e-1].end)
		a.mentions = append(a.mentions, events.Mention{Start: start, End: end, Surface: d.text[start:end], Kind: e.kind})
		if start < d.titleEnd {
			a.inTitle = true
		} else if start < d.leadEnd {
			a.inLead = true
		}
		total++
	}
	out := make([]events.Entity, 0, len(accs))
	for _, a := range accs {
		out = append(out, events.Entity{
			Name:       a.rec.name,
			Score:      entityScore(len(a.mentions), total, a.inTitle, a.inLead),
			Mentions:   a.mentions,
			WikidataID: a.rec.wikidata,
		})
	}
	sortEntities(out)
	return out
}
