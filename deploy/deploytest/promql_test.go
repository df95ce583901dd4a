package deploytest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// TestDashboardPromQLParses turns every PromQL expression of the dashboards
// (Grafana variables replaced by real values) into a recording rule and has
// promtool parse them: it needs no running Prometheus.
func TestDashboardPromQLParses(t *testing.T) {
	type recRule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []recRule
	var where []string
	for _, d := range loadDashboards(t) {
		for _, q := range promQueries(d) {
			rules = append(rules, recRule{Record: fmt.Sprintf("dashboard:query_%d", len(rules)), Expr: expandPromQL(q.Text)})
			where = append(where, q.Where)
		}
	}
	if len(rules) < 10 {
		t.Fatalf("only %d PromQL queries found in the dashboards", len(rules))
	}
	doc := map[string]any{"groups": []any{map[string]any{"name": "dashboards", "rules": rules}}}
	b, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dashboards.yml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, "check", "rules", path)
	if strings.Contains(string(b), "$") {
		t.Errorf("a Grafana variable was left in a dashboard query:\n%s", b)
	}
	t.Logf("%d dashboard queries parse (%s ... %s)", len(rules), where[0], where[len(where)-1])
}

// prometheusURL returns $NEWSFLOW_TEST_PROMETHEUS or skips.
func prometheusURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("NEWSFLOW_TEST_PROMETHEUS")
	if u == "" {
		if os.Getenv("NEWSFLOW_TEST_REQUIRE_SERVICES") != "" {
			t.Fatal("NEWSFLOW_TEST_PROMETHEUS is not set but the services are required")
		}
		t.Skip("NEWSFLOW_TEST_PROMETHEUS is not set; make test starts Prometheus (scripts/testenv.sh)")
	}
	return strings.TrimRight(u, "/")
}

// promResult is the part of a Prometheus API answer the tests read.
type promResult struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string            `json:"resultType"`
		Result     []json.RawMessage `json:"result"`
	} `json:"data"`
}

// promQuery runs a query against the real Prometheus: an instant query, or a
// range query over the last window when window > 0. It returns the HTTP status
// and the decoded answer.
func promQuery(t *testing.T, base, expr string, window time.Duration) (int, promResult) {
	t.Helper()
	v := url.Values{"query": {expr}}
	path := "/api/v1/query"
	if window > 0 {
		now := time.Now()
		path = "/api/v1/query_range"
		v.Set("start", strconv.FormatInt(now.Add(-window).Unix(), 10))
		v.Set("end", strconv.FormatInt(now.Unix(), 10))
		// One evaluation a second: the integration run's stages live for
		// seconds, and a gauge has no value at an evaluation point after its
		// target stopped (staleness), so a coarse step can miss them all.
		v.Set("step", "1")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, strings.NewReader(v.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("query Prometheus at %s: %v", base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read Prometheus answer: %v", err)
	}
	var r promResult
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("decode Prometheus answer (HTTP %d): %v: %.200s", resp.StatusCode, err, b)
	}
	return resp.StatusCode, r
}

// allPromQL returns every PromQL expression of the rules and the dashboards,
// with Grafana's variables replaced. NeedData is false for expressions that
// may rightly be empty after a short integration run: alerts (data only while
// they fire), rules of groups evaluated less often than every minute (the
// news baselines, every 5 minutes), and the alert annotations of a dashboard.
func allPromQL(t *testing.T) []query {
	var out []query
	for _, rf := range loadRuleFiles(t) {
		for _, g := range rf.Groups {
			slow := false
			if g.Interval != "" {
				d, err := time.ParseDuration(g.Interval)
				slow = err != nil || d > time.Minute
			}
			for _, r := range g.Rules {
				out = append(out, query{Where: filepath.Base(rf.Path) + " " + r.Record + r.Alert, Text: r.Expr,
					NeedData: r.Record != "" && !slow})
			}
		}
	}
	for _, d := range loadDashboards(t) {
		for _, q := range promQueries(d) {
			q.Text = expandPromQL(q.Text)
			q.NeedData = !strings.Contains(q.Where, "/ annotation ")
			out = append(out, q)
		}
	}
	return out
}

// TestPromQLOnRealPrometheus sends every expression of the rules and the
// dashboards to the real Prometheus of the test environment. Each must parse
// (the API answers 400 to a parse error). When the integration run has had
// its stages scraped (newsflow_sink_articles_stored_total > 0 in the last
// hour), each must also return data over that hour; run it after the
// integration run with NEWSFLOW_TEST_PROMETHEUS_REQUIRE_DATA=1 to make
// missing data a failure instead of a skip.
func TestPromQLOnRealPrometheus(t *testing.T) {
	base := prometheusURL(t)
	qs := allPromQL(t)
	for _, q := range qs {
		status, r := promQuery(t, base, q.Text, 0)
		if status != http.StatusOK || r.Status != "success" {
			t.Errorf("%s: Prometheus refused the query (HTTP %d, %s: %s):\n%s", q.Where, status, r.ErrorType, r.Error, q.Text)
		}
	}
	if t.Failed() {
		return
	}
	t.Logf("%d expressions parse on %s", len(qs), base)

	window := time.Hour
	_, r := promQuery(t, base, "max_over_time(newsflow_sink_articles_stored_total[1h]) > 0", 0)
	if len(r.Data.Result) == 0 {
		if os.Getenv("NEWSFLOW_TEST_PROMETHEUS_REQUIRE_DATA") != "" {
			t.Fatalf("NEWSFLOW_TEST_PROMETHEUS_REQUIRE_DATA is set but no stage has been scraped by %s in the last hour (no stored article)", base)
		}
		t.Skipf("no stage has been scraped by %s in the last hour (no stored article): "+
			"the check that every expression returns data runs after the integration run", base)
	}
	for _, q := range qs {
		if !q.NeedData {
			continue
		}
		_, r := promQuery(t, base, q.Text, window)
		if len(r.Data.Result) == 0 {
			t.Errorf("%s: no data in the last %s:\n%s", q.Where, window, q.Text)
		}
	}
}
