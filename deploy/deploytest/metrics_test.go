package deploytest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the metrics catalogue in docs/operations.md from the exposition")

const (
	catalogueStart = "<!-- metrics-catalogue:start -->"
	catalogueEnd   = "<!-- metrics-catalogue:end -->"
)

// exposition returns the path of a Prometheus text exposition of every
// stage: $NEWSFLOW_TEST_EXPOSITION when set (for example /metrics of running
// stages, concatenated), otherwise the one `newsflow demo --metrics-out`
// writes after running the whole pipeline on the bundled sample feeds.
func exposition(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("NEWSFLOW_TEST_EXPOSITION"); p != "" {
		return p
	}
	out := filepath.Join(t.TempDir(), "metrics.txt")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", "./cmd/newsflow", "demo", "--metrics-out", out, "--timeout", "90s")
	cmd.Dir = root(t)
	// CGO_ENABLED=0 as in the Dockerfile, so that TestDockerfile's build
	// reuses this compilation.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	start := time.Now()
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run ./cmd/newsflow demo --metrics-out: %v\n%s", err, b)
	}
	t.Logf("demo exposition in %s", time.Since(start).Round(time.Millisecond))
	return out
}

// TestMetricsAgainstExposition proves the dashboards, the rules and the
// catalogue in docs/operations.md against the metrics the code exports.
func TestMetricsAgainstExposition(t *testing.T) {
	fams := parseExposition(t, exposition(t))
	var own []string
	for name := range fams {
		if strings.HasPrefix(name, "newsflow_") {
			own = append(own, name)
		}
	}
	if len(own) < 20 {
		t.Fatalf("exposition has only %d newsflow_* families: %v", len(own), own)
	}
	recorded := recordedNames(t)

	// check reports every metric name and label an expression uses that the
	// code does not export (or no rule records).
	check := func(t *testing.T, where, expr string) {
		t.Helper()
		for _, name := range metricNames(expr) {
			switch {
			case strings.Contains(name, ":"):
				if !recorded[name] {
					t.Errorf("%s: %s is recorded by no rule in deploy/prometheus/rules", where, name)
				}
			case fams[baseName(name, fams)] == nil:
				t.Errorf("%s: metric %s is not exported by the code", where, name)
			}
		}
		for _, m := range selectorRe.FindAllStringSubmatch(expr, -1) {
			fam := fams[baseName(m[1], fams)]
			if fam == nil {
				continue
			}
			for _, l := range matcherLabels(m[2]) {
				if !fam.Labels[l] && l != "job" && l != "instance" && l != "le" {
					t.Errorf("%s: %s has no label %q (it has %v)", where, m[1], l, keys(fam.Labels))
				}
			}
		}
	}

	t.Run("rules", func(t *testing.T) {
		for _, rf := range loadRuleFiles(t) {
			for _, g := range rf.Groups {
				for _, r := range g.Rules {
					check(t, fmt.Sprintf("%s %s%s", filepath.Base(rf.Path), r.Record, r.Alert), r.Expr)
				}
			}
		}
	})
	t.Run("dashboards", func(t *testing.T) {
		for _, d := range loadDashboards(t) {
			for _, q := range promQueries(d) {
				check(t, q.Where, q.Text)
			}
		}
	})
	t.Run("catalogue", func(t *testing.T) {
		path := filepath.Join(root(t), "docs", "operations.md")
		doc, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read docs/operations.md: %v", err)
		}
		want := catalogue(fams)
		got, ok := between(string(doc), catalogueStart, catalogueEnd)
		if !ok {
			t.Fatalf("docs/operations.md has no %s ... %s block", catalogueStart, catalogueEnd)
		}
		if got == want {
			return
		}
		if *update {
			newDoc := strings.Replace(string(doc), catalogueStart+got+catalogueEnd, catalogueStart+want+catalogueEnd, 1)
			if err := os.WriteFile(path, []byte(newDoc), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("rewrote the metrics catalogue in %s", path)
			return
		}
		gotRows, wantRows := catalogueRows(got), catalogueRows(want)
		for name, row := range wantRows {
			if gotRows[name] == "" {
				t.Errorf("docs/operations.md catalogue lacks %s", name)
			} else if gotRows[name] != row {
				t.Errorf("docs/operations.md catalogue row of %s is stale:\n got: %s\nwant: %s", name, gotRows[name], row)
			}
		}
		for name := range gotRows {
			if wantRows[name] == "" {
				t.Errorf("docs/operations.md catalogue lists %s, which the code does not export", name)
			}
		}
		if !t.Failed() {
			t.Errorf("docs/operations.md catalogue differs from the exposition in layout")
		}
		t.Log("regenerate with: go test ./deploy/deploytest -run TestMetricsAgainstExposition/catalogue -update")
	})
}

// selectorRe matches a newsflow_* metric with label matchers.
var selectorRe = regexp.MustCompile(`(newsflow_[a-zA-Z0-9_]+)\{([^}]*)\}`)

// matcherLabels returns the label names of a matcher list (a="x", b=~"y").
func matcherLabels(s string) []string {
	s = stringRe.ReplaceAllString(s, `""`)
	var out []string
	for _, part := range strings.Split(s, ",") {
		name, _, ok := strings.Cut(part, "=")
		if !ok {
			name, _, ok = strings.Cut(part, "!")
		}
		name = strings.TrimSpace(name)
		if ok && name != "" {
			out = append(out, name)
		}
	}
	return out
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func between(s, start, end string) (string, bool) {
	_, rest, ok := strings.Cut(s, start)
	if !ok {
		return "", false
	}
	in, _, ok := strings.Cut(rest, end)
	return in, ok
}

// catalogue renders the Markdown tables of every newsflow_* family, one per
// component (the second word of the name).
func catalogue(fams map[string]*family) string {
	byComp := map[string][]*family{}
	for name, f := range fams {
		if !strings.HasPrefix(name, "newsflow_") {
			continue
		}
		comp := strings.SplitN(strings.TrimPrefix(name, "newsflow_"), "_", 2)[0]
		byComp[comp] = append(byComp[comp], f)
	}
	order := []string{"fetcher", "enricher", "sink", "kafka"}
	for c := range byComp {
		if !slices.Contains(order, c) {
			order = append(order, c)
		}
	}
	var b strings.Builder
	b.WriteString("\n")
	for _, c := range order {
		fs := byComp[c]
		if len(fs) == 0 {
			continue
		}
		sort.Slice(fs, func(i, j int) bool { return fs[i].Name < fs[j].Name })
		fmt.Fprintf(&b, "\n**%s**\n\n| Metric | Type | Labels | Meaning |\n| --- | --- | --- | --- |\n", c)
		for _, f := range fs {
			labels := keys(f.Labels)
			for i, l := range labels {
				labels[i] = "`" + l + "`"
			}
			ls := strings.Join(labels, ", ")
			if ls == "" {
				ls = "-"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", f.Name, f.Type, ls, strings.ReplaceAll(f.Help, "|", `\|`))
		}
	}
	b.WriteString("\n")
	return b.String()
}

// catalogueRows maps each metric of a rendered catalogue to its table row.
func catalogueRows(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "| `newsflow_") {
			name := strings.Trim(strings.Fields(line)[1], "`")
			out[name] = line
		}
	}
	return out
}
