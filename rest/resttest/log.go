package resttest

import (
	"log/slog"
	"sync"
)

// Log keeps what a logger writes, for a test to look for a line; servers
// log from many goroutines, so it locks.
type Log struct {
	mu  sync.Mutex
	buf []byte
}

// Logger returns a text logger, at debug level, writing to l.
func (l *Log) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.buf = append(l.buf, p...)
	l.mu.Unlock()
	return len(p), nil
}

// String is everything logged so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.buf)
}
