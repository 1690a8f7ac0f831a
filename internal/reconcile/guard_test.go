package reconcile

import (
	"context"
	"strings"
	"testing"

	"github.com/ferry-sdn/ferry/internal/crash"
)

// TestPassPanicIsAFailedPass: a pass that panics (a device sent what the
// engine does not expect) fails with an error and is counted; ferryd goes
// on.
func TestPassPanicIsAFailedPass(t *testing.T) {
	c := New(Config{Logger: testLogger(t)})
	before := crash.Count("reconcile")
	err := c.runPass(context.Background(), make(chan struct{}, 1), 0, func(context.Context) error {
		var m map[string]int
		m["boom"]++ // a nil map write: a runtime panic
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("runPass of a panicking pass: %v, want an error saying it panicked", err)
	}
	if crash.Count("reconcile") != before+1 {
		t.Errorf("panics counted %d, want %d", crash.Count("reconcile"), before+1)
	}
	// The pass slot was given back: the next pass runs.
	if err := c.runPass(context.Background(), make(chan struct{}, 1), 0, func(context.Context) error { return nil }); err != nil {
		t.Fatalf("the pass after the panic: %v", err)
	}
}
