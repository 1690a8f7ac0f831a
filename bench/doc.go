// Package bench is ferry's benchmark harness: it drives a control plane
// through the workload of issue 6 against real Open vSwitch processes and
// reports one table.
//
// The steps:
//
//  1. Scale: M dummy-datapath hypervisors (each its own ovsdb-server and
//     ovs-vswitchd --enable-dummy, unix sockets, no root), S logical switches
//     and P ports whose VIFs already exist as Interfaces with iface-id. It
//     times the first REST call to every switch realized, counts the flows
//     and groups on every bridge, measures the ovs-ofctl --bundle ceiling
//     on a fresh bridge with the same flows, and has the system re-push one
//     whole bridge (ovs-vswitchd restarted: its flows are gone) to compare
//     with that ceiling.
//  2. Latency: with that state present, single-port creates one after
//     another, each timed from the REST call to realized on every chassis.
//  3. Restart: SIGKILL the control plane and start it again on the same
//     state; time until every device is verified in step, and count the
//     flow_mods and OVSDB writes it sent (0 flow_mods when nothing changed).
//     3b. Bulk: more switches created whole, one call per switch with all
//     its ports (BulkCreator: ferry's PUT, one OVN NB transaction), timed
//     to realized.
//  4. VTEP: N remote MACs to one hardware_vtep database through ferry's own
//     vtep package (Observe, Ops, one transaction); a second Ops must be
//     empty.
//  5. Data plane (root, namespace lab): REST port create to the first ping
//     between guests on different hypervisors, and TCP throughput over
//     ferry's pipeline against a two-flow VXLAN pipeline on the same OVS.
//  6. Probe cost: fresh hypervisors and switches (each on 2-4 of them),
//     ferryd's CPU over a fixed window with data-plane probes at their
//     default interval and again with --probe-interval 0, on the same
//     state. As root the hypervisors get a dummy underlay (a hub
//     ovs-vswitchd, netdev-dummy unix streams, each hypervisor's
//     ovs-vswitchd in a network namespace of its own for its tunnel
//     address) and probes really cross; otherwise they all time out.
//
// A control plane is a System; ferry is one (Ferry). Another, such as OVN,
// plugs in by implementing System and calling Register from an init
// function in its own file; ferrybench -systems ferry,ovn then runs steps
// 1-3 on each, on fresh hypervisors, and the table gets a column per
// system. The harness owns the hypervisors, the workload, the clock and
// the measurements (flows are counted with ovs-ofctl, CPU and RSS read from
// /proc); a System only knows how it is started, how it creates switches
// and ports, and how to tell that it is done.
//
// Runs are bounded: a Profile gives step 1's REST writes, its wait for
// realization and step 2 their own time budgets, and the run a timeout.
// A system too slow for the workload gets a partial run that says how far
// it got (the report marks it, and Report.Check lists it), rather than a
// run that never ends.
//
// Every process the harness starts is its child, stopped by pid on every
// exit path, Ctrl-C included (and killed by the kernel, through Pdeathsig,
// should the harness itself die). cmd/ferrybench is the command `make
// bench` runs; TestTinyProfile runs the whole harness in CI and checks
// correctness, never timings.
package bench
