package ratelog

import (
	"sync"
	"time"
)

// maxKeys bounds the keys remembered: refusals of many addresses (a scan)
// must not grow the maps forever. Past it everything is forgotten, which
// at worst logs a few lines more.
const maxKeys = 4096

// Limiter allows one line per key per Every. The zero Limiter allows one
// a minute.
type Limiter struct {
	Every time.Duration

	mu         sync.Mutex
	last       map[string]time.Time
	suppressed map[string]int
}

// Allow reports whether to log about key now, and how many lines were
// suppressed since the last one allowed.
func (r *Limiter) Allow(key string) (ok bool, suppressed int) {
	every := r.Every
	if every <= 0 {
		every = time.Minute
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil || len(r.last) > maxKeys {
		r.last, r.suppressed = map[string]time.Time{}, map[string]int{}
	}
	now := time.Now()
	if t, ok := r.last[key]; ok && now.Sub(t) < every {
		r.suppressed[key]++
		return false, 0
	}
	n := r.suppressed[key]
	r.last[key] = now
	delete(r.suppressed, key)
	return true, n
}
