package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	of "antrea.io/libOpenflow/openflow15"

	"github.com/ferry-sdn/ferry/examples/lab"
	"github.com/ferry-sdn/ferry/hypervisor"
	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/openflow/oftest"
)

// ofFrom opens a connection to ferryd's OpenFlow listener from inside
// namespace ns (a short lab name), so from that host's address.
func (e *env) ofFrom(ns string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return lab.DialInNamespace(ctx, "/var/run/netns/"+e.lab.Namespace(ns), "tcp", lab.MgmtIP+":16653")
}

// chassisFull reads a chassis' status with its datapath and refusal.
func (e *env) chassisFull(name string) model.ChassisStatus {
	e.t.Helper()
	var ch struct {
		Status model.ChassisStatus `json:"status"`
	}
	if err := json.Unmarshal(e.must("GET", "/v1/chassis/"+name, nil), &ch); err != nil {
		e.t.Fatal(err)
	}
	return ch.Status
}

// rssKiB reads a process' resident set size and its peak from /proc.
func rssKiB(t *testing.T, pid int) (now, peak int) {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && (f[0] == "VmRSS:" || f[0] == "VmHWM:") {
			v, _ := strconv.Atoi(f[1])
			if f[0] == "VmRSS:" {
				now = v
			} else {
				peak = v
			}
		}
	}
	return now, peak
}

// TestOpenFlowImpostorAndFlood: in the namespace lab with ferryd and three
// real hypervisors, a plain-tcp peer on hv2's management address claims
// hv1's datapath ID and would answer ferry's dump with an endless reply. It
// is refused at once and never sent a dump or a flow_mod; hv1's status
// shows the refusal. Then peers on hv2 and hv3 pour 256 MB into the
// OpenFlow listener (every kind of message nobody asked for, most 64 KiB
// long, from connections that never read, some claiming hv1's datapath,
// some an unknown one, some ending on a malformed length) while 2,000 more
// connections stall in their handshake. ferryd's peak resident set stays
// under 100 MB, and the real bridges keep being served: a guest added
// afterwards reaches the others.
func TestOpenFlowImpostorAndFlood(t *testing.T) {
	e := newEnv(t)
	e.registerChassis()
	e.must("POST", "/v1/switches", map[string]any{"name": "blue", "vni": 1001})
	e.addGuests("blue", blueA, blueB) // hv1 and hv3
	e.waitRealized("blue", 2)
	st := e.chassisFull("hv1")
	dpid, ok := hypervisor.ParseDatapathID(st.DatapathID)
	if !ok || !st.OpenFlowConnected {
		t.Fatalf("hv1 status %+v", st)
	}

	conn, err := e.ofFrom("hv2")
	if err != nil {
		t.Fatal(err)
	}
	im, err := oftest.Handshake(conn, dpid, oftest.Options{EndlessDumps: true})
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	select {
	case <-im.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("impostor on hv2's address claiming hv1's datapath still connected after 10 s")
	}
	for _, typ := range []uint8{of.Type_MultiPartRequest, of.Type_BundleControl, of.Type_BundleAddMessage, of.Type_FlowMod} {
		if n := im.Received(typ); n > 0 {
			t.Errorf("the impostor was sent %d messages of type %d", n, typ)
		}
	}
	r := e.chassisFull("hv1").OpenFlowRefused
	if r == nil || r.Reason != "address" || r.Peer != "198.18.255.12" {
		t.Fatalf("hv1's openflow_refused %+v, want the impostor on 198.18.255.12, by address", r)
	}
	t.Logf("hv1's status: openflow_refused %+v", *r)

	pid := e.ferryd.Pid()
	before, _ := rssKiB(t, pid)
	var peakMu sync.Mutex
	peak := before
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if now, _ := rssKiB(t, pid); now > 0 {
				peakMu.Lock()
				peak = max(peak, now)
				peakMu.Unlock()
			}
		}
	}()

	const total = 256 << 20
	round := oftest.Flood()
	var sentMu sync.Mutex
	sent := 0
	pour := func(sw *oftest.Switch, quota int) bool {
		for n := 0; n < quota; n += len(round) {
			if sw.Write(round) != nil {
				return false
			}
			sentMu.Lock()
			sent += len(round)
			sentMu.Unlock()
		}
		return true
	}
	start := time.Now()
	// Connections that never read, claiming datapaths no chassis has:
	// they wait for a chassis that never takes them.
	var unbound []*oftest.Switch
	for i, ns := range []string{"hv2", "hv3", "hv2"} {
		c, err := e.ofFrom(ns)
		if err != nil {
			t.Fatal(err)
		}
		sw, err := oftest.Handshake(c, uint64(0xf1000d00+i), oftest.Options{Silent: true})
		if err != nil {
			t.Fatal(err)
		}
		defer sw.Close()
		unbound = append(unbound, sw)
	}
	// A flooder claiming hv1's datapath from hv2: refused at every
	// connection, it redials and starts again.
	for claimed := 0; claimed < 16<<20; {
		c, err := e.ofFrom("hv2")
		if err != nil {
			t.Fatal(err)
		}
		sw, err := oftest.Handshake(c, dpid, oftest.Options{Silent: true})
		if err == nil {
			for n := 0; n < 4<<20 && sw.Write(round) == nil; n += len(round) {
				claimed += len(round)
				sentMu.Lock()
				sent += len(round)
				sentMu.Unlock()
			}
			sw.Close()
		}
		c.Close()
	}
	// 2,000 connections that say nothing: they stall in their handshake
	// or wait in the listener's backlog.
	var stalled []net.Conn
	defer func() {
		for _, c := range stalled {
			c.Close()
		}
	}()
	for range 2000 {
		c, err := e.ofFrom("hv3")
		if err != nil {
			break // the backlog is full: that is the point
		}
		stalled = append(stalled, c)
	}
	var wg sync.WaitGroup
	for _, sw := range unbound {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !pour(sw, (total-16<<20)/len(unbound)+len(round)) {
				t.Errorf("an unbound flooder was disconnected")
			}
			// Last, a length below the header's: that ends the stream.
			_ = sw.Write([]byte{of.VERSION, of.Type_EchoRequest, 0, 4, 0, 0, 0, 1})
		}()
	}
	wg.Wait()
	floodTime := time.Since(start)
	for _, c := range stalled {
		c.Close()
	}
	time.Sleep(time.Second) // let ferryd drain what is in flight
	close(stopSampling)
	<-sampled
	after, hwm := rssKiB(t, pid)
	t.Logf("flooded %d MiB in %v with %d stalled connections: ferryd RSS %d KiB before, %d KiB peak sampled, %d KiB after, VmHWM %d KiB",
		sent>>20, floodTime.Round(time.Millisecond), len(stalled), before, peak, after, hwm)
	if sent < total {
		t.Errorf("flooded only %d MiB", sent>>20)
	}
	if peak >= 100<<10 || hwm >= 100<<10 {
		t.Errorf("ferryd's resident set reached %d KiB (VmHWM %d KiB) during a 256 MB flood, want under 100 MB", peak, hwm)
	}
	if exited, err := e.ferryd.Exited(); exited {
		t.Fatalf("ferryd exited during the flood: %v", err)
	}

	// The real bridges are still served.
	e.addGuests("blue", blueC) // hv2
	e.waitRealized("blue", 3)
	if err := e.lab.WaitPing(t, "blue-c", blueA.ip(), 10*time.Second); err != nil {
		t.Errorf("blue-c (hv2) -> blue-a (hv1) after the flood: %v", err)
	}
	for _, hv := range []string{"hv1", "hv2", "hv3"} {
		if st := e.chassisFull(hv); !st.OpenFlowConnected {
			t.Errorf("%s lost its OpenFlow session: %+v", hv, st)
		}
	}
	if n := e.metric(`ferry_openflow_refused_total{reason="address"}`); n < 2 {
		t.Errorf("ferry_openflow_refused_total{reason=\"address\"} = %v, want the impostor and the flooder claiming hv1", n)
	}
	if n := e.metric(`ferry_panics_recovered_total{component="openflow"}`); n != 0 {
		t.Errorf("ferry_panics_recovered_total{component=\"openflow\"} = %v", n)
	}
}
