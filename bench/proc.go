package bench

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is a long-running child process (ovsdb-server, ovs-vswitchd,
// ferryd). It is stopped by its pid only: other OVS instances run on the
// same machine.
type Proc struct {
	Name string
	Log  string // stdout and stderr

	cmd  *exec.Cmd
	done chan struct{}
	err  error
	once sync.Once
}

// StartProc starts bin with args in dir with env (nil: the harness's own),
// writing its output to logPath. The child gets Pdeathsig SIGKILL: should
// the harness die without cleaning up, the kernel kills it. Pdeathsig fires
// when the forking thread exits, so the forking goroutine keeps its thread
// locked for the child's whole life.
func StartProc(name, dir string, env []string, logPath, bin string, args ...string) (*Proc, error) {
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("bench: start %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = out, out
	// Setpgid: a Ctrl-C on the terminal reaches the harness only, which
	// then stops its children in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	p := &Proc{Name: name, Log: logPath, cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			out.Close()
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("bench: start %s: %w", name, err)
	}
	return p, nil
}

// Pid is the child's process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the child has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Done is closed when the child exits.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Stop sends SIGTERM, then SIGKILL after timeout, and waits.
func (p *Proc) Stop(timeout time.Duration) {
	p.once.Do(func() {
		if p.Exited() {
			return
		}
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(timeout):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
}

// Kill sends SIGKILL and waits: a crash, as the child's peers see it.
func (p *Proc) Kill() {
	p.once.Do(func() {
		if !p.Exited() {
			_ = p.cmd.Process.Kill()
		}
		<-p.done
	})
}

// Tail returns the last n lines of the child's log.
func (p *Proc) Tail(n int) string { return tailFile(p.Log, n) }

// Usage is what a process has consumed.
type Usage struct {
	RSS     int64         // resident set size, bytes
	CPU     time.Duration // user + system
	Threads int
}

// ProcUsage reads /proc/PID: VmRSS and utime+stime.
func ProcUsage(pid int) (Usage, error) {
	var u Usage
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, fmt.Errorf("bench: usage of %d: %w", pid, err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		switch k {
		case "VmRSS":
			kb, _ := strconv.ParseInt(fields[0], 10, 64)
			u.RSS = kb * 1024
		case "Threads":
			u.Threads, _ = strconv.Atoi(fields[0])
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, fmt.Errorf("bench: usage of %d: %w", pid, err)
	}
	// Fields after the command, which is in parentheses and may hold
	// spaces: state is field 3, utime 14, stime 15.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return u, errors.New("bench: unreadable /proc/PID/stat")
	}
	rest := strings.Fields(string(stat[i+1:]))
	if len(rest) < 13 {
		return u, errors.New("bench: short /proc/PID/stat")
	}
	ut, _ := strconv.ParseInt(rest[11], 10, 64)
	st, _ := strconv.ParseInt(rest[12], 10, 64)
	// USER_HZ is 100 on every Linux ABI Go supports.
	u.CPU = time.Duration(ut+st) * 10 * time.Millisecond
	return u, nil
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// cleanups runs registered functions in reverse order, once.
type cleanups struct {
	mu  sync.Mutex
	fns []func()
}

func (c *cleanups) add(f func()) {
	c.mu.Lock()
	c.fns = append(c.fns, f)
	c.mu.Unlock()
}

func (c *cleanups) run() {
	c.mu.Lock()
	fns := c.fns
	c.fns = nil
	c.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}
