package ovsdb

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Restart backoff of a supervised server: a server that keeps dying (a
// full disk, a corrupt file) is retried, but not in a tight loop.
const (
	superviseMinBackoff = 250 * time.Millisecond
	superviseMaxBackoff = 10 * time.Second
	// superviseStable is how long a server must have run for its next
	// exit to count as a fresh failure rather than a repeat.
	superviseStable = 30 * time.Second
)

// Supervisor keeps an ovsdb-server child running: when it exits other than
// by Stop (killed, crashed), it is started again on the same files, so the
// target stays the same and clients reconnect by themselves. The database
// file holds every committed transaction, so nothing acknowledged is lost.
type Supervisor struct {
	cfg    ServerConfig
	log    *slog.Logger
	target Target

	mu     sync.Mutex
	cur    *Server
	cancel context.CancelFunc
	done   chan struct{}

	restarts atomic.Uint64
	up       atomic.Bool
}

// Supervise starts the server as RunServer does and keeps it running until
// Stop or the end of ctx. The first start's error is returned: a
// configuration that cannot work should stop ferryd at once.
func Supervise(ctx context.Context, cfg ServerConfig) (*Supervisor, error) {
	srv, err := RunServer(ctx, cfg)
	if err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &Supervisor{cfg: cfg, log: logger, target: srv.Target(), cur: srv, cancel: cancel, done: make(chan struct{})}
	s.up.Store(true)
	go s.run(ctx, srv)
	return s, nil
}

// Target is the server's unix socket; it does not change across restarts.
func (s *Supervisor) Target() Target { return s.target }

// Restarts counts the restarts after unexpected exits.
func (s *Supervisor) Restarts() uint64 { return s.restarts.Load() }

// Running reports whether a server process is up.
func (s *Supervisor) Running() bool { return s.up.Load() }

// Pid is the current server's process id, 0 while none runs.
func (s *Supervisor) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil || !s.up.Load() {
		return 0
	}
	return s.cur.Pid()
}

func (s *Supervisor) run(ctx context.Context, srv *Server) {
	defer close(s.done)
	backoff := time.Duration(0)
	for {
		started := time.Now()
		select {
		case <-ctx.Done():
			return
		case <-srv.Done():
		}
		s.up.Store(false)
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > superviseStable {
			backoff = 0
		}
		s.log.Error("ovsdb: server exited unexpectedly; restarting it", "err", srv.waitErr, "ran", time.Since(started).Round(time.Millisecond))
		for {
			backoff = min(max(2*backoff, superviseMinBackoff), superviseMaxBackoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			next, err := RunServer(ctx, s.cfg)
			if err == nil {
				s.mu.Lock()
				s.cur = next
				s.mu.Unlock()
				srv = next
				s.restarts.Add(1)
				s.up.Store(true)
				s.log.Warn("ovsdb: server restarted", "pid", next.Pid(), "restarts", s.restarts.Load())
				break
			}
			if ctx.Err() != nil {
				return
			}
			s.log.Error("ovsdb: server restart failed; will retry", "err", err, "retry_in", min(2*backoff, superviseMaxBackoff))
		}
	}
}

// Stop ends supervision and stops the current server.
func (s *Supervisor) Stop() error {
	s.cancel()
	<-s.done
	s.mu.Lock()
	srv := s.cur
	s.mu.Unlock()
	s.up.Store(false)
	if srv == nil {
		return errors.New("ovsdb: supervisor: no server")
	}
	return srv.Stop()
}
