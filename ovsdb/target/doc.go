// Package target names OVSDB and OpenFlow connection methods the way OVS
// writes them: active tcp:IP:PORT, ssl:IP:PORT, unix:PATH, which ferry
// dials, and passive ptcp:PORT[:IP], pssl:PORT[:IP], punix:PATH, on which
// it listens (ovsdb(7)). It parses, prints, dials and listens, and needs
// nothing but the standard library, so that clients such as ferryctl can
// check targets without linking an OVSDB client; package ovsdb re-exports
// it as ovsdb.Target. Its errors keep the "ovsdb:" prefix operators know
// from ferryd's flags and API responses.
package target
