package oftest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	of "antrea.io/libOpenflow/openflow15"
)

// Options say how the switch behaves after its handshake.
type Options struct {
	// EndlessDumps answers every multipart request with parts of 64 KiB
	// that all say more are coming, until the controller gives up.
	EndlessDumps bool
	// Silent stops reading after the handshake: a peer that never reads
	// what the controller sends (echo replies, probes) fills its socket
	// buffers.
	Silent bool
}

// Switch is one scripted connection.
type Switch struct {
	conn net.Conn
	br   *bufio.Reader
	wmu  sync.Mutex
	opts Options

	mu      sync.Mutex
	got     map[uint8]int
	done    chan struct{}
	closing chan struct{}
	once    sync.Once
}

// Message builds an OpenFlow 1.5 message; its length field is the real one
// unless the message is longer than 64 KiB.
func Message(typ uint8, xid uint32, body []byte) []byte {
	m := make([]byte, 8, 8+len(body))
	m[0], m[1] = of.VERSION, typ
	binary.BigEndian.PutUint16(m[2:4], uint16(8+len(body)))
	binary.BigEndian.PutUint32(m[4:8], xid)
	return append(m, body...)
}

// Handshake does the switch side of the handshake on conn, claiming dpid,
// and then serves the connection in the background as opts say. It fails
// if the controller hangs up or misbehaves before its features request.
func Handshake(conn net.Conn, dpid uint64, opts Options) (*Switch, error) {
	s := &Switch{conn: conn, br: bufio.NewReader(conn), opts: opts, got: map[uint8]int{},
		done: make(chan struct{}), closing: make(chan struct{})}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	// A version bitmap offering only OpenFlow 1.5.
	if err := s.write(Message(of.Type_Hello, 1, []byte{0, 1, 0, 8, 0, 0, 0, 1 << of.VERSION})); err != nil {
		return nil, err
	}
	for {
		m, err := s.read()
		if err != nil {
			return nil, fmt.Errorf("oftest: handshake: %w", err)
		}
		if m[1] == of.Type_FeaturesRequest {
			body := make([]byte, 24)
			binary.BigEndian.PutUint64(body[0:8], dpid)
			body[12] = 254 // n_tables
			if err := s.write(Message(of.Type_FeaturesReply, xid(m), body)); err != nil {
				return nil, err
			}
			break
		}
	}
	_ = conn.SetDeadline(time.Time{})
	go s.serve()
	return s, nil
}

func xid(m []byte) uint32 { return binary.BigEndian.Uint32(m[4:8]) }

func (s *Switch) read() ([]byte, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(s.br, hdr[:]); err != nil {
		return nil, err
	}
	l := int(binary.BigEndian.Uint16(hdr[2:4]))
	if l < 8 {
		return nil, errors.New("oftest: message shorter than its header")
	}
	m := make([]byte, l)
	copy(m, hdr[:])
	if _, err := io.ReadFull(s.br, m[8:]); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.got[m[1]]++
	s.mu.Unlock()
	return m, nil
}

func (s *Switch) write(m []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_, err := s.conn.Write(m)
	return err
}

func (s *Switch) serve() {
	defer close(s.done)
	if s.opts.Silent {
		<-s.closing // reading nothing, it cannot tell the controller hung up
		return
	}
	for {
		m, err := s.read()
		if err != nil {
			return
		}
		var reply []byte
		switch m[1] {
		case of.Type_EchoRequest:
			reply = Message(of.Type_EchoReply, xid(m), m[8:])
		case of.Type_BarrierRequest:
			reply = Message(of.Type_BarrierReply, xid(m), nil)
		case of.Type_BundleControl:
			if len(m) >= 16 {
				body := append([]byte(nil), m[8:16]...)
				body[5]++ // a request's type + 1 is its reply's
				reply = Message(of.Type_BundleControl, xid(m), body)
			}
		case of.Type_MultiPartRequest:
			if len(m) < 16 {
				continue
			}
			if s.opts.EndlessDumps {
				go s.endlessReply(m)
				continue
			}
			reply = Message(of.Type_MultiPartReply, xid(m), append([]byte(nil), m[8:16]...))
			reply[10], reply[11] = 0, 0 // no OFPMPF_REPLY_MORE
		}
		if reply != nil {
			if err := s.write(reply); err != nil {
				return
			}
		}
	}
}

// endlessReply streams parts of the reply to req, each saying more follow.
func (s *Switch) endlessReply(req []byte) {
	part := Message(of.Type_MultiPartReply, xid(req), make([]byte, 0xffff-8))
	copy(part[8:10], req[8:10])                // the request's multipart type
	binary.BigEndian.PutUint16(part[10:12], 1) // OFPMPF_REPLY_MORE
	binary.BigEndian.PutUint16(part[2:4], uint16(len(part)))
	for {
		if s.write(part) != nil {
			return
		}
	}
}

// Received counts the messages of type typ the controller sent.
func (s *Switch) Received(typ uint8) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got[typ]
}

// Done is closed once the connection has ended (the controller closed
// it, or Close was called).
func (s *Switch) Done() <-chan struct{} { return s.done }

// Close closes the connection.
func (s *Switch) Close() {
	s.once.Do(func() { close(s.closing) })
	s.conn.Close()
}

// Write sends raw bytes (a flood, a malformed message).
func (s *Switch) Write(b []byte) error { return s.write(b) }

// Flood is one round of what a hostile peer sends after its handshake,
// about 450 KiB: asynchronous messages, echo requests small and oversized,
// replies and errors nobody asked for, and multipart replies that say more
// are coming, most of them 64 KiB long. Write it as often as wanted.
func Flood() []byte {
	big := make([]byte, 0xffff-8)
	var out []byte
	for _, m := range [][]byte{
		Message(of.Type_PacketIn, 0, big),
		Message(of.Type_EchoRequest, 7, big),
		Message(of.Type_PortStatus, 0, big),
		Message(of.Type_Error, 9, big),
		Message(of.Type_Error, 10, make([]byte, 56)),
		Message(of.Type_BarrierReply, 11, big),
		Message(of.Type_FlowRemoved, 0, big),
	} {
		out = append(out, m...)
	}
	mp := Message(of.Type_MultiPartReply, 12, big)
	binary.BigEndian.PutUint16(mp[8:10], of.MultipartType_FlowDesc)
	binary.BigEndian.PutUint16(mp[10:12], 1) // OFPMPF_REPLY_MORE
	out = append(out, mp...)
	for i := range 64 {
		out = append(out, Message(of.Type_EchoRequest, uint32(100+i), nil)...)
	}
	return out
}
