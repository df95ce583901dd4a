package deploytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// promtool returns the promtool binary: $NEWSFLOW_TEST_PROMTOOL, or promtool
// on PATH. Without it the test skips, or fails when the run requires the
// services (make test sets NEWSFLOW_TEST_REQUIRE_SERVICES=1).
func promtool(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("NEWSFLOW_TEST_PROMTOOL"); p != "" {
		return p
	}
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("NEWSFLOW_TEST_REQUIRE_SERVICES") != "" {
			t.Fatalf("promtool not found (apt-get install prometheus, or run make test): %v", err)
		}
		t.Skip("promtool not found; make test installs it (Debian package prometheus)")
	}
	return p
}

func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestRuleFilesAreValid(t *testing.T) {
	runPromtool(t, append([]string{"check", "rules"}, ruleFilePaths(t)...)...)
}

// TestPrometheusConfigs checks both configurations with the rule files they
// load: the compose stack's and the integration tests'.
func TestPrometheusConfigs(t *testing.T) {
	for _, name := range []string{"prometheus.yml", "prometheus-test.yml"} {
		t.Run(name, func(t *testing.T) {
			runPromtool(t, "check", "config", filepath.Join(root(t), "deploy", "prometheus", name))
		})
	}
}

// TestRuleUnitTests runs the promtool unit tests of the rules (each alert
// firing and staying quiet on synthetic series).
func TestRuleUnitTests(t *testing.T) {
	tests, err := filepath.Glob(filepath.Join(rulesDir(t), "*.test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tests) == 0 {
		t.Fatal("no promtool unit tests (*.test.yaml) in deploy/prometheus/rules")
	}
	runPromtool(t, append([]string{"test", "rules"}, tests...)...)
}

// TestRulesGlobLoadsOnlyRuleFiles: both Prometheus configurations load
// rules/*.yml, so a unit-test file must not end in .yml.
func TestRulesGlobLoadsOnlyRuleFiles(t *testing.T) {
	for _, name := range []string{"prometheus.yml", "prometheus-test.yml"} {
		var cfg struct {
			RuleFiles []string `yaml:"rule_files"`
		}
		readYAML(t, filepath.Join(root(t), "deploy", "prometheus", name), &cfg)
		if !slices.Contains(cfg.RuleFiles, "rules/*.yml") {
			t.Errorf("deploy/prometheus/%s rule_files %v, want rules/*.yml", name, cfg.RuleFiles)
		}
	}
	bad, err := filepath.Glob(filepath.Join(rulesDir(t), "*.test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range bad {
		t.Errorf("%s: name promtool unit tests *.test.yaml; rules/*.yml would load it as a rule file and Prometheus would not start", filepath.Base(p))
	}
}

// ruleTestFile is a promtool unit-test file.
type ruleTestFile struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		AlertRuleTest []struct {
			EvalTime  string `yaml:"eval_time"`
			Alertname string `yaml:"alertname"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
		PromQLExprTest []struct {
			Expr string `yaml:"expr"`
		} `yaml:"promql_expr_test"`
	} `yaml:"tests"`
}

func TestEveryRuleFileHasAUnitTest(t *testing.T) {
	for _, p := range ruleFilePaths(t) {
		testPath := strings.TrimSuffix(p, ".yml") + ".test.yaml"
		if _, err := os.Stat(testPath); err != nil {
			t.Errorf("%s has no promtool unit test %s", filepath.Base(p), filepath.Base(testPath))
			continue
		}
		var tf ruleTestFile
		readYAML(t, testPath, &tf)
		if !slices.Contains(tf.RuleFiles, filepath.Base(p)) {
			t.Errorf("%s does not load %s (rule_files: %v)", filepath.Base(testPath), filepath.Base(p), tf.RuleFiles)
		}
		if len(tf.Tests) == 0 {
			t.Errorf("%s has no tests", filepath.Base(testPath))
		}
	}
}

// TestEveryAlertHasFiringAndQuietCases reads the unit tests: each alert needs
// at least one evaluation where it fires and one where it does not.
func TestEveryAlertHasFiringAndQuietCases(t *testing.T) {
	tests, err := filepath.Glob(filepath.Join(rulesDir(t), "*.test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	firing, quiet := map[string]bool{}, map[string]bool{}
	for _, p := range tests {
		var tf ruleTestFile
		readYAML(t, p, &tf)
		for _, tc := range tf.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) > 0 {
					firing[a.Alertname] = true
				} else {
					quiet[a.Alertname] = true
				}
			}
		}
	}
	n := 0
	for _, rf := range loadRuleFiles(t) {
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Alert == "" {
					continue
				}
				n++
				if !firing[r.Alert] {
					t.Errorf("alert %s (%s) has no unit-test case where it fires", r.Alert, filepath.Base(rf.Path))
				}
				if !quiet[r.Alert] {
					t.Errorf("alert %s (%s) has no unit-test case where it stays quiet", r.Alert, filepath.Base(rf.Path))
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no alerts found in the rule files")
	}
}

// TestAlertsHaveRunbooks: every alert has a severity and the annotations the
// on-call reads, and its runbook_url points at a section of docs/operations.md.
func TestAlertsHaveRunbooks(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(root(t), "docs", "operations.md"))
	if err != nil {
		t.Fatalf("read docs/operations.md: %v", err)
	}
	anchors := markdownAnchors(string(doc))
	for _, rf := range loadRuleFiles(t) {
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Alert == "" {
					continue
				}
				if !slices.Contains([]string{"critical", "warning", "info"}, r.Labels["severity"]) {
					t.Errorf("alert %s: severity %q, want critical, warning or info", r.Alert, r.Labels["severity"])
				}
				for _, a := range []string{"summary", "description", "runbook", "runbook_url"} {
					if strings.TrimSpace(r.Annotations[a]) == "" {
						t.Errorf("alert %s has no %s annotation", r.Alert, a)
					}
				}
				u := r.Annotations["runbook_url"]
				_, anchor, ok := strings.Cut(u, "docs/operations.md#")
				if !ok {
					t.Errorf("alert %s: runbook_url %q does not point into docs/operations.md", r.Alert, u)
					continue
				}
				if !anchors[anchor] {
					t.Errorf("alert %s: docs/operations.md has no section #%s", r.Alert, anchor)
				}
			}
		}
	}
}

// markdownAnchors returns the GitHub anchors of a Markdown document's headings.
func markdownAnchors(doc string) map[string]bool {
	out := map[string]bool{}
	drop := regexp.MustCompile(`[^a-z0-9 _-]`)
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		h = drop.ReplaceAllString(h, "")
		out[strings.ReplaceAll(h, " ", "-")] = true
	}
	return out
}
