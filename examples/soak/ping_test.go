package soak

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/ferry-sdn/ferry/examples/lab"
)

// Probes go every pingInterval; one unanswered within pingTimeout is lost.
const (
	pingInterval = 200 * time.Millisecond
	pingTimeout  = time.Second
)

// pinger sends ICMP echo requests from one guest to another over a raw
// socket opened inside the guest's namespace, and keeps the send time of
// every probe that went unanswered. It does the work of a `ping` process,
// with exact bookkeeping and no output to parse.
type pinger struct {
	pair pair
	conn net.Conn
	id   uint16

	mu      sync.Mutex
	seq     uint16
	pending map[uint16]time.Time
	sent    int
	lost    []time.Time // send times
}

// pair is a directed pair of guests.
type pair struct{ from, to string }

func (p pair) String() string { return p.from + "→" + p.to }

func newPinger(ctx context.Context, l *lab.Lab, from, to, toIP string, id uint16) (*pinger, error) {
	c, err := lab.DialInNamespace(ctx, "/var/run/netns/"+l.Namespace(from), "ip4:icmp", toIP)
	if err != nil {
		return nil, err
	}
	return &pinger{pair: pair{from, to}, conn: c, id: id, pending: map[uint16]time.Time{}}, nil
}

// run sends and receives until ctx ends.
func (p *pinger) run(ctx context.Context) {
	go p.receive()
	tick := time.NewTicker(pingInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			p.conn.Close()
			return
		case now := <-tick.C:
			p.expire(now)
			p.send(now)
		}
	}
}

func (p *pinger) send(now time.Time) {
	p.mu.Lock()
	p.seq++
	seq := p.seq
	p.pending[seq] = now
	p.sent++
	p.mu.Unlock()
	msg := echoRequest(p.id, seq)
	// A send error (no route while a link is down) is a lost probe.
	p.conn.SetWriteDeadline(now.Add(pingInterval))
	p.conn.Write(msg)
}

// expire counts as lost every probe older than pingTimeout.
func (p *pinger) expire(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for seq, at := range p.pending {
		if now.Sub(at) > pingTimeout {
			p.lost = append(p.lost, at)
			delete(p.pending, seq)
		}
	}
}

func (p *pinger) receive() {
	buf := make([]byte, 1500)
	for {
		n, err := p.conn.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		id, seq, ok := parseEchoReply(buf[:n])
		if !ok || id != p.id {
			continue
		}
		p.mu.Lock()
		if at, ok := p.pending[seq]; ok && time.Since(at) <= pingTimeout {
			delete(p.pending, seq)
		}
		p.mu.Unlock()
	}
}

// stats returns how many probes were sent and the send times of the lost
// ones (those still pending are not counted either way).
func (p *pinger) stats() (sent int, lost []time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent - len(p.pending), append([]time.Time(nil), p.lost...)
}

func echoRequest(id, seq uint16) []byte {
	b := make([]byte, 16)
	b[0] = 8 // echo request
	binary.BigEndian.PutUint16(b[4:], id)
	binary.BigEndian.PutUint16(b[6:], seq)
	copy(b[8:], "ferrysok")
	binary.BigEndian.PutUint16(b[2:], checksum(b))
	return b
}

// parseEchoReply accepts an ICMP echo reply with or without the IPv4
// header in front (a raw socket's Read includes it).
func parseEchoReply(b []byte) (id, seq uint16, ok bool) {
	if len(b) > 0 && b[0]>>4 == 4 {
		ihl := int(b[0]&0x0f) * 4
		if len(b) < ihl {
			return 0, 0, false
		}
		b = b[ihl:]
	}
	if len(b) < 8 || b[0] != 0 || b[1] != 0 {
		return 0, 0, false
	}
	return binary.BigEndian.Uint16(b[4:]), binary.BigEndian.Uint16(b[6:]), true
}

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}
