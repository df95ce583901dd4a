package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for one writer (the process) and readers
// (the test).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a service binary running as a child process. Its stdout and stderr
// are captured and logged when the test fails; t.Cleanup kills it if the test
// did not stop it.
type proc struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	// metrics is the host:port of its /metrics, /healthz and /readyz server
	// ("" when it has none).
	metrics string
	done    chan struct{}
	err     error // the result of cmd.Wait, set before done closes
}

// startProc starts binary with args and extra environment (on top of this
// process's environment, without any NEWSFLOW_ variable except the test
// ones, so that a developer's settings cannot change the services'
// defaults). metricsAddr is the value of its --metrics-addr, if any.
func startProc(t *testing.T, name, binary, metricsAddr string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, stdout: &syncBuffer{}, stderr: &syncBuffer{}, metrics: metricsAddr, done: make(chan struct{})}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Env = append(cleanEnv(), env...)
	p.cmd.Stdout = p.stdout
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s (%s %s): %v", name, binary, strings.Join(args, " "), err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			p.dumpLog()
		}
	})
	return p
}

// cleanEnv returns os.Environ without NEWSFLOW_ variables that are not test
// settings.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "NEWSFLOW_") && !strings.HasPrefix(kv, "NEWSFLOW_TEST_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func (p *proc) dumpLog() {
	p.t.Logf("---- %s (pid %d) stderr ----\n%s", p.name, p.cmd.Process.Pid, p.stderr.String())
	if out := p.stdout.String(); out != "" {
		p.t.Logf("---- %s stdout ----\n%s", p.name, out)
	}
}

// exited reports whether the process has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitCode returns the exit code of an exited process (-1 when a signal
// killed it).
func (p *proc) exitCode() int {
	return p.cmd.ProcessState.ExitCode()
}

// waitExit waits up to timeout for the process to exit on its own and
// returns its exit code.
func (p *proc) waitExit(timeout time.Duration) (int, error) {
	select {
	case <-p.done:
		return p.exitCode(), nil
	case <-time.After(timeout):
		return 0, fmt.Errorf("%s still running after %v", p.name, timeout)
	}
}

// waitReady polls GET /readyz until it answers 200, failing the test when
// the process exits first or timeout passes.
func (p *proc) waitReady(timeout time.Duration) {
	p.t.Helper()
	p.waitHTTP("/readyz", timeout)
}

// waitHTTP polls path on the metrics server until it answers 200.
func (p *proc) waitHTTP(path string, timeout time.Duration) {
	p.t.Helper()
	if p.metrics == "" {
		p.t.Fatalf("%s has no metrics address to poll", p.name)
	}
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	var last string
	for {
		if p.exited() {
			p.t.Fatalf("%s exited (%v) before %s answered 200", p.name, p.err, path)
		}
		resp, err := client.Get("http://" + p.metrics + path)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: GET %s did not answer 200 within %v (last: %s)", p.name, path, timeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop sends SIGTERM and asserts a clean exit (code 0) within timeout; on
// timeout it kills the process and fails the test.
func (p *proc) stop(timeout time.Duration) {
	p.t.Helper()
	if p.exited() {
		p.t.Fatalf("%s had already exited (%v) before SIGTERM", p.name, p.err)
	}
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("SIGTERM %s: %v", p.name, err)
	}
	code, err := p.waitExit(timeout)
	if err != nil {
		p.kill()
		p.t.Fatalf("after SIGTERM: %v", err)
	}
	if code != 0 {
		p.t.Fatalf("%s exited with code %d after SIGTERM, want 0", p.name, code)
	}
	p.t.Logf("%s stopped on SIGTERM with exit code 0 in %v", p.name, time.Since(start).Round(time.Millisecond))
}

// kill sends SIGKILL (if the process still runs) and waits for it.
func (p *proc) kill() {
	if p.exited() {
		return
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.t.Logf("kill %s: %v", p.name, err)
	}
	<-p.done
}

// get fetches path from the process's metrics server and returns the body.
func (p *proc) get(ctx context.Context, path string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.metrics+path, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("GET %s from %s: %w", path, p.name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", fmt.Errorf("read %s from %s: %w", path, p.name, err)
	}
	return resp.StatusCode, string(b), nil
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// eventually calls check every interval until it returns nil or timeout
// passes, then fails the test with check's last error.
func eventually(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
