package deploytest

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestComposeEnvironmentNamesFlags checks that every NEWSFLOW_* variable a
// stage's service sets in docker-compose.yml is one its binary reads: a
// misspelt variable would be ignored without a word, and the stage would run
// on a default.
func TestComposeEnvironmentNamesFlags(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: not building the stages")
	}
	c := loadCompose(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", dir+string(filepath.Separator), "./cmd/fetcher", "./cmd/enricher", "./cmd/sink")
	build.Dir = root(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", build.Args, err, out)
	}
	envName := regexp.MustCompile(`\(env (NEWSFLOW_[A-Z0-9_]+)\)`)
	for _, stage := range []string{"fetcher", "enricher", "sink"} {
		// The service runs the binary with no arguments: its own flags.
		help, _ := exec.CommandContext(ctx, filepath.Join(dir, stage), "--help").CombinedOutput()
		known := map[string]bool{}
		for _, m := range envName.FindAllStringSubmatch(string(help), -1) {
			known[m[1]] = true
		}
		if len(known) == 0 {
			t.Fatalf("%s --help names no NEWSFLOW_* variable:\n%s", stage, help)
		}
		s, ok := c.Services[stage]
		if !ok {
			t.Errorf("service %s missing", stage)
			continue
		}
		for name := range s.Env {
			if strings.HasPrefix(name, "NEWSFLOW_") && !known[name] {
				t.Errorf("service %s sets %s, which %s does not read", stage, name, stage)
			}
		}
	}
}
