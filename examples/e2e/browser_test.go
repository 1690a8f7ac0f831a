package e2e

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/examples/lab"
)

// browser is headless Chromium driven over the DevTools protocol on a
// pipe (--remote-debugging-pipe: NUL-terminated JSON on fds 3 and 4), so
// no Go dependency and no debugging port are needed, and Chromium can run
// inside the lab's management namespace, where ferryd listens: it loads
// the page exactly as an operator's browser on that network would.
type browser struct {
	t        *testing.T
	cmd      *exec.Cmd
	toChrome *os.File
	session  string

	mu      sync.Mutex
	nextID  int
	waiting map[int]chan cdpMessage
	logs    []string // console errors, exceptions, CSP violations
	dead    chan struct{}
}

type cdpMessage struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// chromium finds Debian's chromium; without it the test skips, unless
// FERRY_REQUIRE_OVS=1 (CI installs it with OVS) makes that a failure.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const reason = "chromium is not installed (apt-get install chromium; .ci/install-deps does)"
	if os.Getenv("FERRY_REQUIRE_OVS") == "1" {
		t.Fatalf("FERRY_REQUIRE_OVS=1 but %s", reason)
	}
	t.Skipf("skipping: %s", reason)
	return ""
}

// newBrowser starts Chromium in the lab's namespace ns with a page of
// width×height CSS pixels. It is stopped (by its own process group) in
// t.Cleanup.
func newBrowser(t *testing.T, l *lab.Lab, ns string, width, height int) *browser {
	t.Helper()
	bin := chromium(t)
	profile := t.TempDir()
	cmdR, cmdW, err := os.Pipe() // we write commands; Chromium reads fd 3
	if err != nil {
		t.Fatal(err)
	}
	evR, evW, err := os.Pipe() // Chromium writes fd 4; we read
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"netns", "exec", l.Namespace(ns), bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
		"--user-data-dir=" + profile, "--no-first-run", "--no-default-browser-check",
		"--disable-extensions", "--disable-background-networking", "--disable-sync",
		"--disable-component-update", "--disable-dev-shm-usage", "--hide-scrollbars",
		"--mute-audio", "--force-device-scale-factor=1",
		fmt.Sprintf("--window-size=%d,%d", width, height), "about:blank"}
	cmd := exec.Command("ip", args...)
	cmd.ExtraFiles = []*os.File{cmdR, evW}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("browser: start: %v", err)
	}
	cmdR.Close()
	evW.Close()
	b := &browser{t: t, cmd: cmd, toChrome: cmdW, waiting: map[int]chan cdpMessage{}, dead: make(chan struct{})}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	go b.read(evR)
	t.Cleanup(func() {
		b.call("", "Browser.close", nil, nil)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
		// Renderers and helpers are in the browser's process group: stop
		// whatever is left of what this test started, by that group.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		cmdW.Close()
		evR.Close()
		if t.Failed() {
			t.Logf("chromium output:\n%s", tailLines(stderr.String(), 30))
		}
	})

	var target struct {
		TargetID string `json:"targetId"`
	}
	b.mustCall("", "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	b.mustCall("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached)
	b.session = attached.SessionID
	b.mustCall(b.session, "Runtime.enable", nil, nil)
	b.mustCall(b.session, "Log.enable", nil, nil)
	b.mustCall(b.session, "Page.enable", nil, nil)
	b.mustCall(b.session, "Emulation.setDeviceMetricsOverride", map[string]any{
		"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}, nil)
	return b
}

func (b *browser) read(r *os.File) {
	defer close(b.dead)
	br := bufio.NewReader(r)
	for {
		raw, err := br.ReadBytes(0)
		if err != nil {
			return
		}
		var m cdpMessage
		if json.Unmarshal(raw[:len(raw)-1], &m) != nil {
			continue
		}
		b.mu.Lock()
		if ch, ok := b.waiting[m.ID]; ok && m.ID != 0 {
			delete(b.waiting, m.ID)
			ch <- m
		} else {
			b.event(m)
		}
		b.mu.Unlock()
	}
}

// event records what the page reports as broken: uncaught exceptions,
// console errors and the browser's own error log (where CSP violations
// and failed loads appear).
func (b *browser) event(m cdpMessage) {
	switch m.Method {
	case "Runtime.exceptionThrown":
		var p struct {
			ExceptionDetails struct {
				Text      string `json:"text"`
				Exception struct {
					Description string `json:"description"`
				} `json:"exception"`
			} `json:"exceptionDetails"`
		}
		json.Unmarshal(m.Params, &p)
		b.logs = append(b.logs, "exception: "+p.ExceptionDetails.Text+" "+p.ExceptionDetails.Exception.Description)
	case "Runtime.consoleAPICalled":
		var p struct {
			Type string `json:"type"`
			Args []struct {
				Value any `json:"value"`
			} `json:"args"`
		}
		json.Unmarshal(m.Params, &p)
		if p.Type == "error" || p.Type == "warning" {
			b.logs = append(b.logs, fmt.Sprintf("console.%s: %v", p.Type, p.Args))
		}
	case "Log.entryAdded":
		var p struct {
			Entry struct {
				Level, Source, Text, URL string
			} `json:"entry"`
		}
		json.Unmarshal(m.Params, &p)
		if p.Entry.Level == "error" || p.Entry.Level == "warning" {
			b.logs = append(b.logs, fmt.Sprintf("%s %s: %s %s", p.Entry.Source, p.Entry.Level, p.Entry.Text, p.Entry.URL))
		}
	}
}

// errors returns what the page reported as broken so far.
func (b *browser) errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.logs...)
}

// resetErrors forgets what the page reported so far (failures the test
// caused on purpose).
func (b *browser) resetErrors() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.logs = nil
}

// call sends one DevTools command (to the browser when session is "") and
// waits for its answer.
func (b *browser) call(session, method string, params any, result any) error {
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan cdpMessage, 1)
	b.waiting[id] = ch
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	data, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if _, err := b.toChrome.Write(append(data, 0)); err != nil {
		return fmt.Errorf("browser: %s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("browser: %s: %s", method, m.Error.Message)
		}
		if result != nil {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	case <-b.dead:
		return fmt.Errorf("browser: %s: chromium exited", method)
	case <-time.After(30 * time.Second):
		return fmt.Errorf("browser: %s: no answer within 30s", method)
	}
}

func (b *browser) mustCall(session, method string, params, result any) {
	b.t.Helper()
	if err := b.call(session, method, params, result); err != nil {
		b.t.Fatal(err)
	}
}

// navigate loads url in the page.
func (b *browser) navigate(url string) {
	b.t.Helper()
	var r struct {
		ErrorText string `json:"errorText"`
	}
	b.mustCall(b.session, "Page.navigate", map[string]any{"url": url}, &r)
	if r.ErrorText != "" {
		b.t.Fatalf("browser: navigate %s: %s", url, r.ErrorText)
	}
}

// eval runs a JavaScript expression in the page and decodes its value
// (JSON-serialisable) into out.
func (b *browser) eval(expr string, out any) error {
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := b.call(b.session, "Runtime.evaluate", map[string]any{
		"expression": expr, "returnByValue": true, "awaitPromise": true}, &r); err != nil {
		return err
	}
	if r.ExceptionDetails != nil {
		return fmt.Errorf("browser: %s: %s", expr, r.ExceptionDetails.Text)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(r.Result.Value, out)
}

// waitFor polls a JavaScript condition until it is true.
func (b *browser) waitFor(what, cond string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		err := b.eval("!!("+cond+")", &ok)
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("browser: %s: not within %v (%s; last error %v; page errors %v)", what, timeout, cond, err, b.errors())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// click presses and releases the mouse on the middle of the element
// selector names, as a user's click: the page sees trusted events.
func (b *browser) click(selector string) {
	b.t.Helper()
	var box struct{ X, Y float64 }
	sel, _ := json.Marshal(selector)
	err := b.eval(fmt.Sprintf(`(() => { const e = document.querySelector(%s); if (!e) throw new Error('no element');
		e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();
		return {X: r.left + r.width / 2, Y: r.top + r.height / 2}; })()`, sel), &box)
	if err != nil {
		b.t.Fatalf("browser: click %s: %v", selector, err)
	}
	for _, typ := range []string{"mouseMoved", "mousePressed", "mouseReleased"} {
		p := map[string]any{"type": typ, "x": box.X, "y": box.Y}
		if typ != "mouseMoved" {
			p["button"], p["clickCount"] = "left", 1
		}
		b.mustCall(b.session, "Input.dispatchMouseEvent", p, nil)
	}
}

// screenshot saves the page as a PNG.
func (b *browser) screenshot(path string) error {
	var r struct {
		Data string `json:"data"`
	}
	if err := b.call(b.session, "Page.captureScreenshot", map[string]any{"format": "png"}, &r); err != nil {
		return err
	}
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		return errors.New("browser: screenshot: not a PNG")
	}
	return os.WriteFile(path, png, 0o644)
}

// pageErrors fails the test if the page reported anything broken.
func (b *browser) pageErrors() {
	b.t.Helper()
	if errs := b.errors(); len(errs) > 0 {
		b.t.Errorf("the page reported errors:\n%s", strings.Join(errs, "\n"))
	}
}
