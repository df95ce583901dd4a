package telemetry

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// ProgressItem names one figure of a progress line: a label and the metric
// families whose samples are summed for it; with Match set, only samples
// whose label Match is one of Values (or, with Exclude, is none of them).
type ProgressItem struct {
	Label   string
	Metrics []string
	Match   string
	Values  []string
	Exclude bool
}

// Sum returns the sum of every sample of the named metric families in g
// (counters and gauges).
func Sum(g prometheus.Gatherer, names ...string) float64 {
	return ProgressItem{Metrics: names}.Value(g)
}

// Value returns the item's figure: the sum of the matching samples in g.
func (it ProgressItem) Value(g prometheus.Gatherer) float64 {
	mfs, err := g.Gather()
	if err != nil {
		return 0
	}
	var total float64
	for _, mf := range mfs {
		for _, n := range it.Metrics {
			if mf.GetName() != n {
				continue
			}
			for _, m := range mf.GetMetric() {
				if it.Match != "" && labelIn(m.GetLabel(), it.Match, it.Values) == it.Exclude {
					continue
				}
				switch {
				case m.GetCounter() != nil:
					total += m.GetCounter().GetValue()
				case m.GetGauge() != nil:
					total += m.GetGauge().GetValue()
				}
			}
		}
	}
	return total
}

// labelIn reports whether the label name has one of values.
func labelIn(ls []*dto.LabelPair, name string, values []string) bool {
	for _, l := range ls {
		if l.GetName() == name {
			return slices.Contains(values, l.GetValue())
		}
	}
	return false
}

// ProgressLine renders the items as "label N, label N, ...".
func ProgressLine(g prometheus.Gatherer, items []ProgressItem) string {
	parts := make([]string, 0, len(items))
	for _, it := range items {
		parts = append(parts, fmt.Sprintf("%s %.0f", it.Label, it.Value(g)))
	}
	return strings.Join(parts, ", ")
}

// ReportProgress writes a progress line to w every interval until ctx is done,
// and only when it changed since the last one.
func ReportProgress(ctx context.Context, w io.Writer, g prometheus.Gatherer, items []ProgressItem, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	last := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			line := ProgressLine(g, items)
			if line != last {
				fmt.Fprintf(w, "%s progress: %s\n", time.Now().Format("15:04:05"), line)
				last = line
			}
		}
	}
}
