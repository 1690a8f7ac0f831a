package openflow

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// Why a connection was refused: the values of RefusedCounts' keys (and of
// ferryd's ferry_openflow_refused_total reason label). The set is fixed, so
// the metric's cardinality is.
const (
	// RefusedAddress: a plain-text peer from an address the device is not
	// known by.
	RefusedAddress = "address"
	// RefusedCertificate: a TLS peer whose certificate does not name the
	// device.
	RefusedCertificate = "certificate"
	// RefusedDuplicate: the datapath has a bound session that still
	// answers.
	RefusedDuplicate = "duplicate"
	// RefusedUnbound: no device bound the session within the unbound
	// timeout (no registered chassis has that datapath ID).
	RefusedUnbound = "unbound"
	// RefusedHandshake: the TLS or OpenFlow handshake failed.
	RefusedHandshake = "handshake"
	// RefusedBusy: the peer host already has as many unbound connections
	// as it may (WithMaxUnboundPerHost).
	RefusedBusy = "busy"
)

var reasons = [...]string{RefusedAddress, RefusedCertificate, RefusedDuplicate, RefusedUnbound, RefusedHandshake, RefusedBusy}

// RefusalReasons lists every reason, for metrics.
func RefusalReasons() []string { return slices.Clone(reasons[:]) }

// Refusal is the last connection refused for a datapath, as a device's
// status shows it.
type Refusal struct {
	Peer   string // the peer's address (and certificate name)
	Reason string // one of the Refused… constants
	Detail string // why, in words
	At     time.Time
	// Count is how many connections claiming the datapath were refused
	// since the server started.
	Count uint64
}

// refusal is one refused session.
type refusal struct {
	s           *Session
	reason, why string
}

// recordLocked keeps r as d's last refusal; s.mu is held.
func (s *Server) recordLocked(d *datapath, r refusal) {
	n := uint64(1)
	if d.refused != nil {
		n = d.refused.Count + 1
	}
	d.refused = &Refusal{Peer: r.s.peer.String(), Reason: r.reason, Detail: r.why, At: time.Now(), Count: n}
}

// refuse closes a refused session, counts it and logs it: a Warn once a
// minute per peer host (a refused bridge redials every second or so), Debug
// otherwise.
func (s *Server) refuse(r refusal) {
	s.counters.refused(r.reason)
	msg := "openflow: refusing connection: " + r.why
	attrs := []any{"reason", r.reason, "peer", r.s.peer.String()}
	if ok, suppressed := s.refusals.Allow(r.reason + ":" + r.s.peer.key()); ok {
		if suppressed > 0 {
			attrs = append(attrs, "suppressed", suppressed)
		}
		r.s.log().Warn(msg, attrs...)
	} else {
		r.s.log().Debug(msg, attrs...)
	}
	r.s.close(fmt.Errorf("refused (%s): %s", r.reason, r.why))
}

// handshakeFailed counts and logs a failed handshake, rate-limited per peer
// like refusals. A peer that hung up at once (a port scan, a health check)
// is not worth a warning.
func (s *Server) handshakeFailed(ss *Session, err error) {
	s.counters.refused(RefusedHandshake)
	key := RefusedHandshake + ":" + peerOf(ss.conn).key()
	if ok, suppressed := s.refusals.Allow(key); ok && !errors.Is(err, io.EOF) {
		attrs := []any{"error", err}
		if suppressed > 0 {
			attrs = append(attrs, "suppressed", suppressed)
		}
		ss.log().Warn("openflow: handshake failed", attrs...)
	} else {
		ss.log().Debug("openflow: handshake failed", "error", err)
	}
}
