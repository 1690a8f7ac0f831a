// Package trace answers "where does this frame go?" for a logical switch:
// ovn-trace for ferry. Everything here is pure, like internal/realize:
//
//   - Logical computes the logical view from the estate (the northbound
//     state, bindings and gateways' views the flows are built from): the
//     ingress port, then unicast to a VIF, into a tunnel to a chassis or a
//     gateway (and there to its physical ports and VLANs), a flood, or a
//     drop.
//   - Simulate runs a frame through a flow table and its groups (the
//     subset of OpenFlow ferry's pipeline uses), for bridges whose
//     unixctl socket ferry cannot reach.
//   - ParseOFProtoTrace reads what ovs-appctl ofproto/trace prints.
//   - Compare says at which hop, and how, the real view departs from the
//     logical one.
//
// internal/reconcile feeds it each device's state and runs ofproto/trace;
// rest serves the result (GET and POST /v1/trace).
package trace
