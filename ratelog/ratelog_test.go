package ratelog

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	l := Limiter{Every: 50 * time.Millisecond}
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("first line suppressed")
	}
	for range 3 {
		if ok, _ := l.Allow("a"); ok {
			t.Fatal("repeat within the period allowed")
		}
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("another key suppressed")
	}
	time.Sleep(60 * time.Millisecond)
	if ok, n := l.Allow("a"); !ok || n != 3 {
		t.Fatalf("after the period: %v, %d suppressed, want true, 3", ok, n)
	}
}
