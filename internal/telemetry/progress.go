package telemetry

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ProgressItem names one figure of a progress line: a label and the metric
// families whose samples are summed for it (optionally only samples whose label
// Match equals MatchValue).
type ProgressItem struct {
	Label      string
	Metrics    []string
	Match      string
	MatchValue string
}

// Sum returns the sum of every sample of the named metric families in g
// (counters and gauges), restricted to samples whose label match has value
// want when match is not empty.
func Sum(g prometheus.Gatherer, names []string, match, want string) float64 {
	mfs, err := g.Gather()
	if err != nil {
		return 0
	}
	var total float64
	for _, mf := range mfs {
		for _, n := range names {
			if mf.GetName() != n {
				continue
			}
			for _, m := range mf.GetMetric() {
				if match != "" && !hasLabel(m.GetLabel(), match, want) {
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

func hasLabel[L interface {
	GetName() string
	GetValue() string
}](ls []L, name, value string) bool {
	for _, l := range ls {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// ProgressLine renders the items as "label N, label N, ...".
func ProgressLine(g prometheus.Gatherer, items []ProgressItem) string {
	parts := make([]string, 0, len(items))
	for _, it := range items {
		parts = append(parts, fmt.Sprintf("%s %.0f", it.Label, Sum(g, it.Metrics, it.Match, it.MatchValue)))
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
