package ovsdb

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPassivePendingCap: while MaxPending connections sit unidentified (a
// flood of stalled handshakes), the next one waits, neither served nor
// dropped, and gets in as soon as a slot frees; identified hosts do not
// hold slots.
func TestPassivePendingCap(t *testing.T) {
	var logs syncBuffer
	p := startPassive(t, passiveOpts{pending: 2, timeout: time.Minute, log: slog.New(slog.NewTextHandler(&logs, nil))})
	stalled := []*fakeHost{dialHost(t, p), dialHost(t, p)}
	for _, h := range stalled {
		h.recv() // the identification query, never answered
	}
	next := dialHost(t, p)
	eventually(t, 5*time.Second, "Serve to wait for a slot", func() bool { return p.Waits() > 0 })
	_ = next.c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := next.c.Read(make([]byte, 1)); n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection beyond the cap: read %d, %v; want it left waiting", n, err)
	}
	if p.Pending() != 2 {
		t.Fatalf("%d pending, cap 2", p.Pending())
	}
	if !strings.Contains(logs.String(), "too many connections being identified") {
		t.Errorf("reaching the cap is not logged:\n%s", logs.String())
	}

	stalled[0].c.Close()
	m := next.recv()
	next.send(`{"id":` + string(m.ID) + `,"result":[{"rows":[{"external_ids":["map",[["system-id","hv3"]]]}]}],"error":null}`)
	eventually(t, 5*time.Second, "hv3 connected", func() bool { return p.Connected("hv3") })
	eventually(t, 5*time.Second, "hv3's slot freed", func() bool { return p.Pending() == 1 })
	// One slot is free and stays free after each host is identified.
	for _, name := range []string{"hv4", "hv5", "hv6"} {
		dialIdentified(t, p, name)
		eventually(t, 5*time.Second, name+" connected", func() bool { return p.Connected(name) })
	}
}

// TestPassiveTLSHandshakeDeadline: a peer that opens a pssl: connection
// and never completes the handshake is dropped after IdentifyTimeout.
func TestPassiveTLSHandshakeDeadline(t *testing.T) {
	ca, caKey := newCA(t, "ferry test CA")
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	p, err := NewPassive(PassiveConfig{
		Listen:          Target{Scheme: PSSL, Host: "127.0.0.1"},
		TLS:             PeerTLSConfig(newLeaf(t, ca, caKey, "controller"), pool),
		Accept:          func(string) bool { return true },
		RelayDir:        filepath.Join(shortTempDir(t), "relay"),
		Logger:          testLogger(t),
		IdentifyTimeout: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	go p.Serve(context.Background())
	t.Cleanup(func() { p.Close(); checkPassiveGone(t, p) })
	c, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("a stalled TLS handshake was never dropped")
	}
	eventually(t, 5*time.Second, "the refusal counted", func() bool { return p.Refused() == 1 })
}
