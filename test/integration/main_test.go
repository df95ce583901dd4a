package integration

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The environment variables scripts/testenv.sh exports.
const (
	envKafka      = "NEWSFLOW_TEST_KAFKA"
	envPostgres   = "NEWSFLOW_TEST_POSTGRES"
	envPrometheus = "NEWSFLOW_TEST_PROMETHEUS"
	envKcat       = "NEWSFLOW_TEST_KCAT"
	envRequire    = "NEWSFLOW_TEST_REQUIRE_SERVICES"
)

// howToRun is the advice printed when the services are missing.
const howToRun = `integration test: run "make test", or start the services with eval "$(scripts/testenv.sh up)" ` +
	`(or eval "$(scripts/testenv.sh env)" when they run) and then go test -count=1 ./test/integration/...`

// bins holds the paths of the service binaries TestMain built; empty when
// the services are missing and the tests skip.
type binaries struct {
	fetcher, enricher, sink, newsflow string
}

// bin is set once by TestMain before any test runs and only read afterwards.
var bin binaries

// buildErr is the reason the binaries could not be built, and probeErr the
// service that does not answer; every test that needs them reports them.
var buildErr, probeErr error

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	vals, missing := missingEnv(envKafka, envPostgres, envPrometheus, envKcat)
	if missing != "" {
		// Every test skips (or fails under NEWSFLOW_TEST_REQUIRE_SERVICES):
		// building the binaries would only cost time.
		return m.Run()
	}
	if probeErr = probeServices(vals); probeErr != nil {
		return m.Run() // every test fails naming the service
	}
	dir, err := os.MkdirTemp("", "newsflow-it-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration: temp dir for binaries:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	start := time.Now()
	if err := buildBinaries(dir); err != nil {
		buildErr = err
	} else {
		fmt.Fprintf(os.Stderr, "integration: built fetcher, enricher, sink, newsflow in %v\n", time.Since(start).Round(time.Millisecond))
	}
	bin = binaries{
		fetcher:  filepath.Join(dir, "fetcher"),
		enricher: filepath.Join(dir, "enricher"),
		sink:     filepath.Join(dir, "sink"),
		newsflow: filepath.Join(dir, "newsflow"),
	}
	return m.Run()
}

// buildBinaries runs one go build for the four commands (without -race: the
// processes under test need not pay for it) from the module root.
func buildBinaries(dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(os.PathSeparator),
		"./cmd/fetcher", "./cmd/enricher", "./cmd/sink", "./cmd/newsflow")
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build ./cmd/fetcher ./cmd/enricher ./cmd/sink ./cmd/newsflow: %v\n%s", err, out)
	}
	return nil
}

// missingEnv returns the values of names and the first name that is unset.
func missingEnv(names ...string) (map[string]string, string) {
	vals := make(map[string]string, len(names))
	for _, n := range names {
		v := strings.TrimSpace(os.Getenv(n))
		if v == "" {
			return nil, n
		}
		vals[n] = v
	}
	return vals, ""
}

// services returns the values of the named environment variables. When one is
// unset it skips the test naming the command that runs it, or, under
// NEWSFLOW_TEST_REQUIRE_SERVICES=1, fails it naming the variable. It also
// fails the test when TestMain could not build the binaries.
func services(t *testing.T, names ...string) map[string]string {
	t.Helper()
	vals, missing := missingEnv(append([]string{envKafka, envPostgres, envPrometheus, envKcat}, names...)...)
	if missing != "" {
		if os.Getenv(envRequire) == "1" {
			t.Fatalf("%s is not set but %s=1: the real services did not start (see scripts/testenv.sh up)", missing, envRequire)
		}
		t.Skipf("%s is not set. %s", missing, howToRun)
	}
	if probeErr != nil {
		t.Fatal(probeErr)
	}
	if buildErr != nil {
		t.Fatalf("build the service binaries: %v", buildErr)
	}
	return vals
}

// probeServices checks that each service in the environment answers: Kafka
// and PostgreSQL accept a TCP connection, Prometheus answers /-/ready, kcat
// runs. The error names the variable and the address.
func probeServices(vals map[string]string) error {
	dial := func(name, addr string) error {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return fmt.Errorf("%s=%s does not answer: %v (start the services with scripts/testenv.sh up)", name, vals[name], err)
		}
		return c.Close()
	}
	if err := dial(envKafka, strings.Split(vals[envKafka], ",")[0]); err != nil {
		return err
	}
	pg, err := url.Parse(vals[envPostgres])
	if err != nil || pg.Host == "" {
		return fmt.Errorf("%s=%s is not a postgres:// URL with a host", envPostgres, vals[envPostgres])
	}
	if err := dial(envPostgres, pg.Host); err != nil {
		return err
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(strings.TrimRight(vals[envPrometheus], "/") + "/-/ready")
	if err != nil {
		return fmt.Errorf("%s=%s does not answer: %v (start the services with scripts/testenv.sh up)", envPrometheus, vals[envPrometheus], err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s=%s: /-/ready answered %s", envPrometheus, vals[envPrometheus], resp.Status)
	}
	if out, err := exec.Command(vals[envKcat], "-V").CombinedOutput(); err != nil {
		return fmt.Errorf("%s=%s: kcat -V: %v: %s", envKcat, vals[envKcat], err, out)
	}
	return nil
}
