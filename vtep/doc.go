// Package vtep makes ferry the network virtualization controller (NVC) of
// hardware and software VTEPs, which speak the OVSDB hardware_vtep schema
// (generated models in hwvtep).
//
// It is pure, in the style of the rest of ferry: Observe reads one VTEP
// database from libovsdb's cache into an Observed; Ops compares it with a
// Desired (the logical switches, bindings, remote MACs and flood lists
// ferry wants on one Physical_Switch) and returns the operations of a
// single transaction that closes the gap, or none when there is nothing
// to do. Only the caller transacts.
//
// hardware_vtep has no external_ids, so ferry owns rows by role: the
// Logical_Switch rows it created (description "ferry", name "ferry-…"),
// their Ucast_Macs_Remote and Mcast_Macs_Remote rows, and the
// vlan_bindings entries pointing at them. Other controllers' logical
// switches and bindings, the VTEP's own tables (Ucast_Macs_Local,
// Physical_Switch, Physical_Port) are read, never written; of the Tunnel
// rows the VTEP creates, ferry writes only bfd_params (the column
// hardware_vtep gives the NVC) on tunnels towards its hypervisors.
// Physical_Locator and Physical_Locator_Set rows are reused or inserted
// next to the rows that reference them and never deleted: ovsdb-server
// collects them once unreferenced, and locator sets, being immutable, are
// replaced rather than edited.
package vtep
