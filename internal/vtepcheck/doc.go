// Package vtepcheck runs a bounded conformance suite against a VTEP's
// hardware_vtep database on a scratch logical switch and grades each item
// pass, fail or unsupported with the evidence seen.
//
// The scratch switch is named ScratchPrefix+random with description
// Description: not ferry's ownership mark (vtep.Description), so the
// gateway loop's diff neither adopts nor deletes it while a check runs.
// Every row the check inserts is removed on every exit path (with a fresh
// deadline when the caller's context is gone); what could not be removed
// is reported in GatewayCheck.LeftBehind.
//
// It reads back through "select" operations rather than the client's
// cache, so a grade reflects what the server holds, not what the monitor
// has relayed yet.
package vtepcheck
