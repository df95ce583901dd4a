package faults

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is a service that the suite starts, kills and starts again. Every
// incarnation appends its stderr and stdout to one log file, after a line
// naming the incarnation, so that a failure can be traced through restarts.
type proc struct {
	name string
	bin  string
	args []string
	env  []string
	log  string

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	err    error // cmd.Wait's result, set before done closes
	starts int
	// handled is set once the end of the current incarnation was dealt
	// with (killed by the suite, or reported by exitedByItself).
	handled bool
}

func newProc(t *testing.T, name, bin, logPath string, env []string, args ...string) *proc {
	p := &proc{name: name, bin: bin, args: args, env: env, log: logPath}
	t.Cleanup(func() { p.kill() })
	return p
}

// start starts a new incarnation; the previous one must have ended.
func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !closed(p.done) {
		return fmt.Errorf("start %s: already running (pid %d)", p.name, p.cmd.Process.Pid)
	}
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	p.starts++
	fmt.Fprintf(f, "=== faults: %s incarnation %d starts at %s ===\n", p.name, p.starts, time.Now().UTC().Format(time.RFC3339Nano))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.handled = cmd, done, false
	go func() {
		err := cmd.Wait()
		f.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// kill sends SIGKILL and waits until the process is gone. It reports whether
// a process was running.
func (p *proc) kill() bool {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil || closed(done) {
		return false
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
	p.mu.Lock()
	p.handled = true // even if it had exited by itself just before
	p.mu.Unlock()
	p.note(fmt.Sprintf("killed with SIGKILL by the suite at %s", time.Now().UTC().Format(time.RFC3339Nano)))
	return true
}

// stop sends SIGTERM and waits up to timeout, then SIGKILL. It returns the
// process's exit error (nil for exit 0).
func (p *proc) stop(timeout time.Duration) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil || closed(done) {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(timeout):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return fmt.Errorf("%s did not stop within %s of SIGTERM", p.name, timeout)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// exitedByItself reports, once per incarnation, an incarnation that ended
// without the suite ending it, with its exit status. usage is true for exit
// status 2, which the services use for refused flags: starting them again
// cannot help.
func (p *proc) exitedByItself() (why string, usage, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.handled || !closed(p.done) || p.cmd.ProcessState == nil {
		return "", false, false
	}
	p.handled = true
	usage = p.cmd.ProcessState.ExitCode() == 2
	why = fmt.Sprintf("%s incarnation %d exited by itself: %v", p.name, p.starts, p.err)
	if p.err == nil {
		why = fmt.Sprintf("%s incarnation %d exited by itself with status 0", p.name, p.starts)
	}
	return why, usage, true
}

func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil && !closed(p.done)
}

// note appends a line to the log, between incarnations' output.
func (p *proc) note(line string) {
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "=== faults: %s %s ===\n", p.name, line)
}

// tail returns the last n lines of the log.
func (p *proc) tail(n int) string {
	return tailFile(p.log, n)
}

func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 4*n {
			lines = lines[len(lines)-n:]
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func closed(c chan struct{}) bool {
	if c == nil {
		return true
	}
	select {
	case <-c:
		return true
	default:
		return false
	}
}
