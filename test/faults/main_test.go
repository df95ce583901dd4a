package faults

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// binDir holds the service binaries, built once per test binary by binary.
var binDir string

var builds sync.Map // command name → *build

type build struct {
	once sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "newsflow-faults-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// binary returns the path of cmd/<name>, built with `go build -o` the first
// time a test asks for it.
func binary(t *testing.T, name string) string {
	t.Helper()
	v, _ := builds.LoadOrStore(name, &build{})
	b := v.(*build)
	b.once.Do(func() {
		b.path = filepath.Join(binDir, name)
		cmd := exec.Command("go", "build", "-o", b.path, "github.com/newsflow/newsflow/cmd/"+name)
		cmd.Dir = repoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build cmd/%s: %v\n%s", name, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// repoRoot is the module root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// requireFaults skips the test unless NEWSFLOW_FAULTS=1: the destructive
// tests kill the broker and stop the database of the test environment.
func requireFaults(t *testing.T) {
	t.Helper()
	if os.Getenv("NEWSFLOW_FAULTS") != "1" {
		t.Skip("fault-injection test: it restarts Kafka and stops PostgreSQL; run it with `make test-faults` (scripts/test-faults.sh), which sets NEWSFLOW_FAULTS=1")
	}
	if testing.Short() {
		t.Skip("fault-injection test: not in -short mode")
	}
}

// requireEnv returns the value of the environment variable name or fails
// the test naming the command that sets it.
func requireEnv(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run the suite with `make test-faults` (scripts/test-faults.sh), which starts the services and sets it", name)
	}
	return v
}

// serviceEnv is this process's environment without NEWSFLOW_ variables
// (which the services would read as flag defaults), plus extra.
func serviceEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NEWSFLOW_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// execCommand is exec.CommandContext with the full environment (testenv.sh
// needs the NEWSFLOW_TESTENV_* variables of scripts/test-faults.sh).
func execCommand(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, name, args...)
}
