package integration

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// deployDir is the repository's deploy folder, seen from this package.
var deployDir = filepath.Join("..", "..", "deploy")

// metricToken matches PromQL identifiers; a metric name is one that starts
// with newsflow_ and has no colon (names with colons are recording rules).
var metricToken = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)

// deployedMetricNames returns every newsflow_ metric name that the
// Prometheus rule files (deploy/prometheus/rules/*.yml, without the
// *.test.yml rule tests) and the Grafana dashboards
// (deploy/grafana/dashboards/*.json) query, with the files that query it.
func deployedMetricNames(t *testing.T) map[string][]string {
	t.Helper()
	names := map[string][]string{}
	add := func(file, expr string) {
		for _, tok := range metricToken.FindAllString(expr, -1) {
			if strings.HasPrefix(tok, "newsflow_") && !strings.Contains(tok, ":") && !slices.Contains(names[tok], file) {
				names[tok] = append(names[tok], file)
			}
		}
	}
	rules, _ := filepath.Glob(filepath.Join(deployDir, "prometheus", "rules", "*.yml"))
	for _, path := range rules {
		if strings.HasSuffix(path, ".test.yml") {
			continue
		}
		var doc struct {
			Groups []struct {
				Rules []struct {
					Expr string `yaml:"expr"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("parse rule file %s: %v", path, err)
		}
		for _, g := range doc.Groups {
			for _, r := range g.Rules {
				add(filepath.Base(path), r.Expr)
			}
		}
	}
	dashboards, _ := filepath.Glob(filepath.Join(deployDir, "grafana", "dashboards", "*.json"))
	for _, path := range dashboards {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("parse dashboard %s: %v", path, err)
		}
		walkExprs(doc, func(expr string) { add(filepath.Base(path), expr) })
	}
	return names
}

// walkExprs calls fn with every string value of an "expr" key in a decoded
// JSON document (the queries of Grafana panels and template variables use
// "expr" or "query").
func walkExprs(v any, fn func(string)) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && (k == "expr" || k == "query") {
				fn(s)
				continue
			}
			walkExprs(x, fn)
		}
	case []any:
		for _, x := range v {
			walkExprs(x, fn)
		}
	}
}

// checkDeployedMetrics asserts that every newsflow_ metric the shipped rules
// and dashboards query is served by one of the running stages. It runs after
// articles, dead letters and Kafka writes went through the stages, so that
// series whose labels are only known at run time (per topic, per country)
// exist.
func checkDeployedMetrics(t *testing.T, ctx context.Context, st *stages) {
	t.Helper()
	queried := deployedMetricNames(t)
	if len(queried) == 0 {
		t.Skip("no Prometheus rules or Grafana dashboards under deploy/ yet")
	}
	exported := map[string]bool{}
	for _, p := range st.running {
		samples, err := p.scrape(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range samples {
			exported[s.name] = true
		}
	}
	missing := 0
	for _, name := range sortedKeys(queried) {
		if !exported[name] {
			missing++
			t.Errorf("%s queries %s, which none of fetcher, enricher and sink serves", strings.Join(queried[name], ", "), name)
		}
	}
	if missing == 0 {
		t.Logf("all %d newsflow_ metrics that deploy/ rules and dashboards query are served", len(queried))
	}
}
