// Package oftest is a scripted OpenFlow 1.5 switch for tests of ferry's
// controller side: over a connection the test opened (from the address or
// namespace it wants), it does the handshake claiming any datapath ID, and
// then answers, floods or ignores the controller as told, counting what it
// receives. It stands in for an impostor or a hostile bridge; real bridges
// are real ovs-vswitchd.
package oftest
