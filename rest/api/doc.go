// Package api holds the JSON bodies of ferry's REST API, shared by the
// server (package rest) and its Go clients (ferryctl), so that the two
// cannot drift apart. It is plain data: it links neither the server nor
// the northbound store, and rest/openapi.json describes the same shapes
// field by field (a test in package rest checks that they agree).
//
// Requests are named …Request (SwitchRequest, PortRequest, …); what the
// API shows is named after the object (Switch, Port, …). SwitchSpec is a
// whole switch with its ports and bindings: the body of PUT
// /v1/switches/{name} and what `ferryctl apply` reads from a file.
package api
