package lab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Process is a long-running program the lab started inside one of its
// namespaces (ferryd, a test server). Its stdout and stderr go to LogPath.
type Process struct {
	Name    string   // base name of the binary
	Args    []string // binary and arguments
	LogPath string

	l  *Lab
	ns string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
}

// StopTimeout is how long Stop waits after SIGTERM before it sends SIGKILL.
const StopTimeout = 10 * time.Second

// StartFerryd runs binary with args inside the management namespace; see Start.
func (l *Lab) StartFerryd(t testing.TB, binary string, args ...string) *Process {
	t.Helper()
	return l.Start(t, "mgmt", binary, args...)
}

// Start runs binary with args inside namespace ns (a short or full name),
// logging to a file in the lab directory. The process is stopped in
// t.Cleanup; if the test failed, the tail of its log goes to the test log
// first. The child inherits the test's environment.
func (l *Lab) Start(t testing.TB, ns, binary string, args ...string) *Process {
	t.Helper()
	name := filepath.Base(binary)
	p := &Process{
		Name:    name,
		Args:    append([]string{binary}, args...),
		LogPath: l.uniqueLog(name),
		l:       l,
		ns:      ns,
	}
	if err := p.start(); err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil && !isExitError(err) {
			t.Errorf("lab: stop %s: %v", p.Name, err)
		}
		if t.Failed() {
			t.Logf("lab diagnostics: tail of %s (%s)\n%s", p.Name, p.LogPath, tail(p.LogPath, 80))
		}
	})
	return p
}

func (l *Lab) uniqueLog(name string) string {
	for i := 0; ; i++ {
		path := filepath.Join(l.Dir, fmt.Sprintf("%s-%d.log", name, i))
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return path
		}
	}
}

func (p *Process) start() error {
	logFile, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("lab: start %s: %w", p.Name, err)
	}
	defer logFile.Close()
	// ip netns exec execs the binary, so the pid we hold is the binary's own.
	cmd := exec.Command("ip", append([]string{"netns", "exec", p.l.Namespace(p.ns)}, p.Args...)...)
	cmd.Env = labEnv()
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("lab: start %s: %w", p.Name, err)
	}
	fmt.Fprintf(logFile, "# lab: started pid %d in %s: %q\n", cmd.Process.Pid, p.l.Namespace(p.ns), p.Args)
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done, p.waitErr = cmd, done, nil
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// Pid is the process id of the current run.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.Process.Pid
}

// Done is closed when the current run exits.
func (p *Process) Done() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// Exited reports whether the current run has exited, and its wait error.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.Done():
		p.mu.Lock()
		defer p.mu.Unlock()
		return true, p.waitErr
	default:
		return false, nil
	}
}

// Stop sends SIGTERM and waits for the process to exit, sending SIGKILL
// after StopTimeout. It returns the wait error (an *exec.ExitError when the
// process exited non-zero or by a signal other than SIGTERM). Stopping an
// exited process returns its earlier result.
func (p *Process) Stop() error {
	return p.signal(syscall.SIGTERM, StopTimeout)
}

// Kill sends SIGKILL and waits: a crash, as far as the process's peers can
// tell.
func (p *Process) Kill() error {
	err := p.signal(syscall.SIGKILL, StopTimeout)
	if isExitError(err) {
		return nil
	}
	return err
}

func (p *Process) signal(sig syscall.Signal, timeout time.Duration) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	select {
	case <-done:
	default:
		_ = cmd.Process.Signal(sig)
		select {
		case <-done:
		case <-time.After(timeout):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if sig == syscall.SIGTERM {
		var ee *exec.ExitError
		if errors.As(p.waitErr, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
				return nil // died of the signal we sent: a clean stop
			}
		}
	}
	return p.waitErr
}

// Restart stops the process (SIGTERM) and starts it again with the same
// arguments, appending to the same log.
func (p *Process) Restart(t testing.TB) {
	t.Helper()
	if err := p.Stop(); err != nil {
		t.Logf("lab: restart %s: previous run: %v", p.Name, err)
	}
	if err := p.start(); err != nil {
		t.Fatalf("%v", err)
	}
}

// Log returns everything the process has written so far (all runs).
func (p *Process) Log() string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return ""
	}
	return string(b)
}

func isExitError(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee)
}

// Start runs an exited process again with the same arguments, appending to
// the same log: the second half of a restart after Kill or Stop.
func (p *Process) Start(t testing.TB) {
	t.Helper()
	if exited, _ := p.Exited(); !exited {
		t.Fatalf("lab: start %s: still running (pid %d)", p.Name, p.Pid())
	}
	if err := p.start(); err != nil {
		t.Fatalf("%v", err)
	}
}

// Signal sends sig to the current run without waiting.
func (p *Process) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.Process.Signal(sig)
}
