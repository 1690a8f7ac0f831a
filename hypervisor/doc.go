// Package hypervisor is the Open_vSwitch side of a chassis, as package vtep
// is the hardware_vtep side of a gateway: what ferry observes in a
// hypervisor's database (its managed bridge, ferry's tunnel ports and
// their BFD state, the VIFs its toolstack attached), the bridge
// configuration ferry wants there (Config), and the operations that get it
// there (CreateOps, DeleteOps, ...). Everything but Observe is pure; the
// reconcile package commits what these functions return. Flows are not
// here: internal/realize computes them from the northbound and the
// openflow package sends them.
package hypervisor
