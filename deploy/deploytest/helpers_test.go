// Package deploytest proves the observability pack in deploy/ against the
// real code and services: metric names against the exposition of the running
// pipeline, PromQL against promtool and the real Prometheus, the News monitor
// SQL against the real PostgreSQL, and the structure of docker-compose.yml
// and the Dockerfile. It holds tests only.
package deploytest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// root returns the repository root (two levels up from this package).
func root(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatalf("repository root: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("repository root %s has no go.mod: %v", dir, err)
	}
	return dir
}

// --- rule files -----------------------------------------------------------

// ruleFile is a Prometheus rule file.
type ruleFile struct {
	Path   string
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval"`
		Rules    []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Record      string            `yaml:"record"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// rulesDir is where the rule files and their tests live.
func rulesDir(t testing.TB) string { return filepath.Join(root(t), "deploy", "prometheus", "rules") }

// ruleFilePaths lists the rule files: every *.yml of rules/ (the promtool
// unit tests are *.test.yaml, out of the rule_files glob rules/*.yml).
func ruleFilePaths(t testing.TB) []string {
	t.Helper()
	all, err := filepath.Glob(filepath.Join(rulesDir(t), "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	out := all
	if len(out) == 0 {
		t.Fatalf("no rule files in %s", rulesDir(t))
	}
	return out
}

func loadRuleFiles(t testing.TB) []ruleFile {
	t.Helper()
	var out []ruleFile
	for _, p := range ruleFilePaths(t) {
		var rf ruleFile
		readYAML(t, p, &rf)
		rf.Path = p
		out = append(out, rf)
	}
	return out
}

func readYAML(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
}

// recordedNames returns the names of all recording rules.
func recordedNames(t testing.TB) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, rf := range loadRuleFiles(t) {
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					out[r.Record] = true
				}
			}
		}
	}
	return out
}

// --- dashboards -------------------------------------------------------------

// dashboard is the part of a Grafana dashboard JSON the tests read.
type dashboard struct {
	Path       string
	UID        string   `json:"uid"`
	Title      string   `json:"title"`
	Tags       []string `json:"tags"`
	Panels     []panel  `json:"panels"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []struct {
			Name       string `json:"name"`
			Expr       string `json:"expr"`
			Datasource *dsRef `json:"datasource"`
		} `json:"list"`
	} `json:"annotations"`
}

type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int      `json:"id"`
	Type       string   `json:"type"`
	Title      string   `json:"title"`
	Datasource *dsRef   `json:"datasource"`
	Targets    []target `json:"targets"`
	Panels     []panel  `json:"panels"` // collapsed rows
}

type target struct {
	RefID  string `json:"refId"`
	Expr   string `json:"expr"`
	RawSQL string `json:"rawSql"`
	Format string `json:"format"`
}

type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Datasource json.RawMessage `json:"datasource"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
	AllValue   string          `json:"allValue"`
	Current    struct {
		Value json.RawMessage `json:"value"`
	} `json:"current"`
}

// queryString returns a variable's query, which Grafana stores either as a
// string or as an object with a "query" field.
func (v variable) queryString() string {
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var o struct {
		Query string `json:"query"`
	}
	_ = json.Unmarshal(v.Query, &o)
	return o.Query
}

func dashboardsDir(t testing.TB) string {
	return filepath.Join(root(t), "deploy", "grafana", "dashboards")
}

func loadDashboards(t testing.TB) map[string]dashboard {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dashboardsDir(t), "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]dashboard{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("parse %s: %v", p, err)
		}
		d.Path = p
		out[filepath.Base(p)] = d
	}
	for _, want := range []string{"pipeline-health.json", "news-monitor.json"} {
		if _, ok := out[want]; !ok {
			t.Fatalf("dashboard %s missing from %s", want, dashboardsDir(t))
		}
	}
	return out
}

// allPanels flattens rows.
func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// query is one query of a dashboard, with where it comes from.
type query struct {
	Where  string // "dashboard / panel (refId)"
	Text   string
	Format string
	// NeedData: the query must return data after an integration run.
	NeedData bool
}

// promQueries returns every PromQL expression of a dashboard: panel targets
// and annotation queries.
func promQueries(d dashboard) []query {
	var out []query
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			if tg.Expr != "" {
				out = append(out, query{Where: fmt.Sprintf("%s / %s (%s)", d.Title, p.Title, tg.RefID), Text: tg.Expr})
			}
		}
	}
	for _, a := range d.Annotations.List {
		if a.Expr != "" {
			out = append(out, query{Where: fmt.Sprintf("%s / annotation %s", d.Title, a.Name), Text: a.Expr})
		}
	}
	return out
}

// sqlQueries returns every SQL query of a dashboard: panel targets and query
// variables.
func sqlQueries(d dashboard) []query {
	var out []query
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			if tg.RawSQL != "" {
				out = append(out, query{Where: fmt.Sprintf("%s / %s (%s)", d.Title, p.Title, tg.RefID), Text: tg.RawSQL, Format: tg.Format})
			}
		}
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			out = append(out, query{Where: fmt.Sprintf("%s / variable %s", d.Title, v.Name), Text: v.queryString(), Format: "table"})
		}
	}
	return out
}

// --- PromQL -------------------------------------------------------------------

// expandPromQL replaces Grafana's variables in a PromQL expression with real
// values, as Grafana does before sending the query.
func expandPromQL(expr string) string {
	r := strings.NewReplacer(
		"$__rate_interval", "1m",
		"${__rate_interval}", "1m",
		"$__interval", "30s",
		"${__interval}", "30s",
		"$__range", "1h",
		"${__range}", "1h",
	)
	return r.Replace(expr)
}

var (
	// identifiers that may be metric names: letters, digits, _ and :
	identRe = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	// quoted strings and label matchers' values, removed before looking for names
	stringRe = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	// label lists after by/without/on/ignoring/group_left/group_right
	groupingRe = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	// label matchers in braces
	matcherRe = regexp.MustCompile(`\{[^}]*\}`)
)

// metricNames returns the metric names an expression selects: newsflow_*
// series and recorded series (names with a colon). Functions, keywords and
// label names are not returned.
func metricNames(expr string) []string {
	s := stringRe.ReplaceAllString(expr, `""`)
	s = groupingRe.ReplaceAllString(s, "")
	s = matcherRe.ReplaceAllString(s, "{}")
	seen := map[string]bool{}
	var out []string
	for _, id := range identRe.FindAllString(s, -1) {
		if (strings.HasPrefix(id, "newsflow_") || strings.Contains(id, ":")) && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// --- exposition ----------------------------------------------------------------

// family is one metric family of a Prometheus text exposition.
type family struct {
	Name, Type, Help string
	Labels           map[string]bool // label names of its samples (without le, quantile)
}

// parseExposition reads the Prometheus text format: families from the # TYPE
// and # HELP lines, label names from the samples.
func parseExposition(t testing.TB, path string) map[string]*family {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open exposition: %v", err)
	}
	defer f.Close()
	fams := map[string]*family{}
	get := func(name string) *family {
		if fams[name] == nil {
			fams[name] = &family{Name: name, Labels: map[string]bool{}}
		}
		return fams[name]
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# TYPE "):
			fs := strings.Fields(line)
			if len(fs) >= 4 {
				get(fs[2]).Type = fs[3]
			}
		case strings.HasPrefix(line, "# HELP "):
			fs := strings.SplitN(line, " ", 4)
			if len(fs) == 4 {
				get(fs[2]).Help = fs[3]
			}
		case line == "" || strings.HasPrefix(line, "#"):
		default:
			name := line
			if i := strings.IndexAny(line, "{ "); i >= 0 {
				name = line[:i]
			}
			base := name
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(name, suf); ok && fams[b] != nil && (fams[b].Type == "histogram" || fams[b].Type == "summary") {
					base = b
				}
			}
			fam := get(base)
			if i := strings.Index(line, "{"); i >= 0 {
				for _, l := range labelNames(line[i+1:]) {
					if l != "le" && l != "quantile" {
						fam.Labels[l] = true
					}
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read exposition: %v", err)
	}
	return fams
}

// baseName strips the histogram and summary series suffixes when the base
// family exists.
func baseName(name string, fams map[string]*family) string {
	if fams[name] != nil {
		return name
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if b, ok := strings.CutSuffix(name, suf); ok && fams[b] != nil {
			return b
		}
	}
	return name
}

// labelNames returns the label names of a sample's label set, given the text
// after its opening brace: name="value" pairs, values with \\ \" \n escapes.
func labelNames(s string) []string {
	var out []string
	for {
		s = strings.TrimLeft(s, " ,")
		if s == "" || s[0] == '}' {
			return out
		}
		eq := strings.Index(s, "=")
		if eq < 0 || eq+1 >= len(s) || s[eq+1] != '"' {
			return out
		}
		out = append(out, strings.TrimSpace(s[:eq]))
		s = s[eq+2:]
		i := 0
		for i < len(s) && s[i] != '"' {
			if s[i] == '\\' {
				i++
			}
			i++
		}
		if i >= len(s) {
			return out
		}
		s = s[i+1:]
	}
}
