// Package openflow is ferry's OpenFlow side: the pipeline declaration
// (tables, priorities, metadata marks), the Flow and GroupEntry types whose
// String is the ovs-ofctl rendering and whose Cookie is their identity, and a
// small OpenFlow 1.5 (and 1.3) session layer that installs them.
//
// # Session layer
//
// Bridges dial ferry (their controller target, e.g. tcp:IP:6653 or
// ssl:IP:6653); Server.Serve accepts on any net.Listener — TCP, unix, or a
// tls.Listener, whose tls.Config decides client authentication. For each
// connection the server:
//
//   - exchanges hellos with a version bitmap offering OpenFlow 1.5 and 1.3,
//     speaks the highest the switch also offers (Session.Version), and
//     closes (after an OFPET_HELLO_FAILED error and a Warn log naming the
//     versions the switch offered) when it offers neither;
//   - sends a features request to learn the datapath ID the switch claims,
//     and keeps the Session waiting, unbound: nothing proves the claim.
//     Bind(dpid, authorize) binds the newest waiting session whose Peer
//     (address, verified certificate names) authorize accepts, and refuses
//     and closes the others; the reconciler calls it with its chassis'
//     rules. A connection claiming a datapath that has a bound session is
//     checked against that authorization at once, and refused as a
//     duplicate while the bound session answers an echo within a second;
//     otherwise the bound session is taken for dead and replaced (OVS
//     reconnecting after a partition). A session no one binds within the
//     unbound timeout (60 s) is closed. Refusals are counted by reason
//     (Stats), kept per datapath (Refused) and logged once a minute per
//     peer;
//   - caps connections (WithMaxConns) and unbound ones (WithMaxUnbound):
//     at a cap it stops accepting and connections wait in the backlog;
//   - answers echo requests, probes an idle switch every 5s, and drops the
//     connection after three intervals without hearing anything;
//   - matches replies to requests by xid, reassembles multipart replies
//     (OFPMPF_REPLY_MORE), and turns an OFPT_ERROR into an *Error for the
//     request with that xid;
//   - treats every byte from the switch as hostile: a reply that does not
//     decode fails its request with an error and leaves the session up; a
//     message that cannot be framed, or a multipart reply past
//     WithMaxDumpBytes (16 MiB), ends the connection. Messages nobody waits
//     for are skipped in the read buffer, never allocated; echo requests
//     over 1 KiB go unanswered, and role statuses over 1 KiB are skipped
//     (they are 24 bytes, plus properties ferry ignores). A panic in a connection's goroutines closes
//     that connection and is counted. Every decoder has a fuzz target in
//     fuzz_test.go;
//   - on disconnect, closes Session.Done and fails every waiting request
//     with ErrDisconnected.
//
// Subscribe gives a capacity-one, coalescing notification channel that is
// kicked whenever a session is bound or goes, or waits for a datapath Bind
// was asked for; the reconciler then binds sessions by the datapath ID it
// reads from OVSDB.
//
// Session.Commit sends one reconcile pass as one atomic, ordered bundle and
// waits for the commit; on OpenFlow 1.3, which has no bundles, as an
// ordered sequence closed by a barrier (sequence.go). DumpFlows and
// DumpGroups read the switch's tables, decoding either version's layout.
// Connection up and down are logged at Info; individual messages never are.
//
// # Controller roles
//
// A bridge with one controller per ferryd replica is written to only by
// its master (OpenFlow 1.5.1 §6.3.6). Session.RequestRole sends a role
// request with a generation; generations compare by signed 64-bit distance
// (GenerationDistance), so they may wrap, and a master or slave request
// behind the newest one the switch has seen fails with ErrStale. The
// session records its role as the switch reports it — role replies,
// ROLE_STATUS (another controller became master) and OFPBRC_IS_SLAVE
// refusals, in the order the switch sent them — in Session.Role, and kicks
// Session.RoleChanges when it changes. A slave's bundle fails with an error
// matching ErrNotMaster; the session stays up. A role belongs to one
// connection: every new Session is RoleEqual, and an equal controller may
// write even beside a master, so the owner must request master again on
// every new session and every other replica slave. The session never asks
// for a role on its own.
//
// # Packets (data-plane probes)
//
// Session.PacketOut(ctx, PacketOut{InPort, Actions, Data}) injects one
// frame (no buffer; OpenFlow 1.3 carries InPort in a field, 1.5 in a
// match) and returns without waiting: Output{Port: PortTable} runs it
// through the pipeline as if it had arrived on InPort. The frame is
// checked first (an Ethernet header at least, the whole message within
// 64 KiB, encodable actions). A packet-out the switch rejects comes back
// as an unsolicited error, counted in Counters.PacketOutErrors and logged
// at debug; a Barrier after a batch waits until all were processed.
//
// A flow with the Controller action (ovs-ofctl: CONTROLLER:65535) punts
// frames to the controllers. Session.PacketIns returns the channel they
// are delivered on as PacketIn (table, cookie and reason, in_port, tun_id
// and tunnel source from the match, a copy of the frame); it is closed
// when the session ends. Until the first call the reader skips
// packet-ins unread; after it at most PacketInQueue wait, and the reader
// never waits for the consumer: past that, packet-ins are skipped unread
// and counted (Counters.PacketInDrops). OVS sends packet-ins to master
// and equal controllers only, not to slaves, and refuses a slave's
// packet-outs; it sends whole frames whatever max_len says, and on
// OpenFlow 1.5 gives reason PacketInPacketOut to frames a packet-out sent
// through the table.
//
// # What it does not do
//
// It does not dial switches (no active mode), does not open auxiliary
// connections, ignores port status and other asynchronous messages
// (packet-ins but for PacketIns), and never deletes flows on its own: on connect it
// neither flushes nor resyncs — the reconciler dumps, diffs and commits.
// It encodes only the matches and actions Flow models; anything else found
// in a dumped group bucket decodes as Unknown.
//
// Encoding and the OFPT constants come from antrea.io/libOpenflow; framing,
// negotiation, request tracking and the decoding of dump replies are ours,
// because libOpenflow's stream reorders messages and its decoders reject
// actions they do not know.
package openflow
