package lab

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Capture is a running tcpdump (-l -n -e: one line per frame, with MAC
// addresses) in a lab namespace.
type Capture struct {
	cancel context.CancelFunc
	stop   func()
	done   chan struct{}

	mu    sync.Mutex
	lines []string
}

// Capture starts tcpdump on iface inside namespace ns with a pcap filter
// ("" for everything) and returns once tcpdump is listening, so frames sent
// afterwards are seen. It is stopped in t.Cleanup if the test does not call
// Stop.
func (l *Lab) Capture(t testing.TB, ns, iface, filter string) *Capture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	args := []string{"tcpdump", "-l", "-n", "-e", "--immediate-mode", "-i", iface}
	if filter != "" {
		args = append(args, filter)
	}
	cmd := l.command(ctx, ns, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatalf("lab: capture: %v", err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		cancel()
		t.Fatalf("lab: capture: %v", err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("lab: capture on %s in %s: %v", iface, l.Namespace(ns), err)
	}
	c := &Capture{cancel: cancel, done: make(chan struct{})}
	c.stop = func() { _ = cmd.Process.Signal(syscall.SIGTERM) }

	ready := make(chan struct{})
	var errLines []string
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "listening on") {
				once.Do(func() { close(ready) })
				continue
			}
			c.mu.Lock()
			errLines = append(errLines, line)
			c.mu.Unlock()
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.mu.Lock()
			c.lines = append(c.lines, sc.Text())
			c.mu.Unlock()
		}
		_ = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() { c.Stop() })

	select {
	case <-ready:
		return c
	case <-c.done:
	case <-time.After(10 * time.Second):
	}
	c.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	t.Fatalf("lab: capture on %s in %s did not start: %s", iface, l.Namespace(ns), strings.Join(errLines, "; "))
	return nil
}

// Lines returns the frames seen so far, one tcpdump line each.
func (c *Capture) Lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lines...)
}

// Count returns how many frames seen so far contain substr.
func (c *Capture) Count(substr string) int {
	n := 0
	for _, l := range c.Lines() {
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

// WaitFor waits until a frame containing substr has been seen.
func (c *Capture) WaitFor(substr string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if c.Count(substr) > 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop ends the capture and returns every frame seen. It waits briefly first
// so frames already on the wire are counted.
func (c *Capture) Stop() []string {
	select {
	case <-c.done:
	default:
		time.Sleep(100 * time.Millisecond)
		c.stop()
		select {
		case <-c.done:
		case <-time.After(5 * time.Second):
			c.cancel() // SIGKILL
			<-c.done
		}
	}
	c.cancel()
	return c.Lines()
}

// String is for test failure messages.
func (c *Capture) String() string {
	lines := c.Lines()
	return fmt.Sprintf("%d frames:\n%s", len(lines), strings.Join(lines, "\n"))
}
