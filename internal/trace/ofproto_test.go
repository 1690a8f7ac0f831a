package trace

import (
	"slices"
	"strings"
	"testing"
)

// Texts as OVS 3.1 prints them (docs/pipeline.md).
const unicastTrace = `Flow: ip,in_port=1,vlan_tci=0x0000,dl_src=02:00:00:00:01:01,dl_dst=02:00:00:00:01:03,nw_src=198.18.100.1,nw_dst=198.18.100.3,nw_proto=0,nw_tos=0,nw_ecn=0,nw_ttl=0,nw_frag=no

bridge("br-int")
----------------
 0. in_port=1, priority 100, cookie 0xfe77ccb641f8b24a
    set_field:0x3e9->tun_id
    write_metadata:0x1
    goto_table:10
10. tun_id=0x3e9,metadata=0x1,dl_dst=02:00:00:00:01:03, priority 100, cookie 0xfe77cd45dab69812
    output:32769
     -> output to native tunnel
     -> tunneling to 198.18.1.254 via br-phy
     -> tunneling from aa:03:1f:11:a2:3f 198.18.1.11 to 9a:10:3b:83:87:aa 198.18.1.254

bridge("br-phy")
----------------
 0. priority 0
    NORMAL
     -> forwarding to learned port

Final flow: ip,tun_id=0x3e9,metadata=0x1,in_port=1
Megaflow: recirc_id=0,eth,ip,in_port=1,dl_dst=02:00:00:00:01:03,nw_ecn=0,nw_frag=no
Datapath actions: tnl_push(tnl_port(6),header(size=50,type=4)),out_port(2)),1
`

const floodTrace = `Flow: arp,in_port=1,vlan_tci=0x0000,dl_src=02:00:00:00:01:01,dl_dst=ff:ff:ff:ff:ff:ff

bridge("br-int")
----------------
 0. in_port=1, priority 100, cookie 0xfe77ccb641f8b24a
    set_field:0x3e9->tun_id
    write_metadata:0x1
    goto_table:10
10. tun_id=0x3e9,metadata=0x1, priority 50, cookie 0xfe77465bd27b1070
    group:2147485650
    bucket 0
            output:1
             >> skipping output to input port
    bucket 1
            output:32768
             -> output to native tunnel

        bridge("br-phy")
        ----------------
         0. priority 0
            NORMAL
             -> forwarding to learned port
            output:7
    bucket 2
            output:32769
             -> output to native tunnel

Final flow: arp,tun_id=0x3e9
Datapath actions: clone(tnl_push(tnl_port(6)),out_port(2)),1)
`

const dropTrace = `Flow: arp,in_port=2,vlan_tci=0x0000,dl_src=02:00:00:00:01:05,dl_dst=ff:ff:ff:ff:ff:ff

bridge("br-int")
----------------
 0. priority 0, cookie 0xfe773d682c3bee62
    drop

Final flow: unchanged
Megaflow: recirc_id=0,eth,arp,in_port=2
Datapath actions: drop
`

func TestParseOFProtoTrace(t *testing.T) {
	r := ParseOFProtoTrace("br-int", unicastTrace)
	if !slices.Equal(r.Outputs, []uint32{32769}) || len(r.Groups) != 0 || len(r.Steps) != 2 || !strings.HasPrefix(r.Steps[1], "10. tun_id=0x3e9") {
		t.Fatalf("unicast: %+v", r)
	}
	// Output to the ingress port is skipped; the underlay bridge's
	// outputs are not br-int's.
	r = ParseOFProtoTrace("br-int", floodTrace)
	if !slices.Equal(r.Outputs, []uint32{32768, 32769}) || !slices.Equal(r.Groups, []uint32{2147485650}) {
		t.Fatalf("flood: %+v", r)
	}
	r = ParseOFProtoTrace("br-int", dropTrace)
	if len(r.Outputs) != 0 || !strings.Contains(r.Reason, "0. priority 0") {
		t.Fatalf("drop: %+v", r)
	}
	// Not a trace at all (an error from ovs-appctl): nothing goes out.
	if r := ParseOFProtoTrace("br-int", "ovs-appctl: cannot connect to \"x.ctl\" (No such file or directory)\n"); len(r.Outputs) != 0 {
		t.Fatalf("error text: %+v", r)
	}
}

func FuzzParseOFProtoTrace(f *testing.F) {
	for _, s := range []string{unicastTrace, floodTrace, dropTrace, "", "bridge(\"", "    output:99999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := ParseOFProtoTrace("br-int", s)
		for _, p := range r.Outputs {
			if p == 0 {
				t.Fatalf("output to port 0: %+v", r)
			}
		}
	})
}

func TestPacketString(t *testing.T) {
	p := Packet{InPort: 32768, HasTunID: true, TunID: 1001, EthSrc: mac("02:00:00:00:01:01"), EthDst: mac(bareMetal), EthType: 0x0800}
	if got, want := p.String(), "in_port=32768,tun_id=0x3e9,dl_src=02:00:00:00:01:01,dl_dst="+bareMetal+",ip"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}
