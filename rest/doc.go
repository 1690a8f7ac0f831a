// Package rest is ferry's HTTP API: operators register chassis and create
// logical switches and ports; every object shows whether ferry has realized
// it on the devices.
//
//	GET, POST               /v1/switches
//	GET, PUT, PATCH, DELETE /v1/switches/{name}
//	GET, POST               /v1/switches/{switch}/ports
//	GET, DELETE             /v1/switches/{switch}/ports/{port}
//	GET, POST               /v1/switches/{switch}/bindings
//	DELETE                  /v1/switches/{switch}/bindings/{gateway}/{port}/{vlan}
//	GET, POST               /v1/chassis
//	GET, DELETE             /v1/chassis/{name}
//	GET, POST               /v1/gateways
//	GET, DELETE             /v1/gateways/{name}
//	GET                     /v1/openapi.json, /healthz, /metrics
//	GET                     /ui/ (the topology page, package rest/ui)
//	HEAD                    wherever GET is
//
// The OpenAPI 3 document (openapi.json, embedded and served) is the
// reference; tests keep it and the router in step, require every status
// code a test gets to be documented for its operation and every
// documented 4xx to be provoked by some test, and run Redocly's linter on
// it (make lint-openapi). The JSON bodies are the types of package
// rest/api, which clients share.
//
// Bulk and declarative writes: POST …/ports also takes a JSON array of
// ports, created in one northbound transaction or not at all; PUT
// /v1/switches/{name} takes a whole switch (api.SwitchSpec: its ports and
// gateway bindings too) and applies the difference in one transaction,
// nothing when nothing differs (200, Ferry-Applied: unchanged; 201 when it
// created the switch). A mistake in an item names it: "ports[3].iface_id:
// required". These bodies may be up to 16 MiB, others 1 MiB.
//
// The handler only validates and translates: reads come from the Backend's
// snapshot, writes go to the Backend (internal/nbdb in ferryd), realization
// status comes from Status (the reconciler). It never talks to devices.
//
// Errors are JSON, {"error": "field: what is wrong"}: bad input is a 4xx and
// never reaches the Backend half-way (400 malformed or invalid, including a
// path segment "." or ".." or one that is not printable UTF-8, named by its
// path variable; 404 unknown object; 405 with Allow; 408 body too slow; 409
// duplicate; 413 body too large; 415 a body whose Content-Type is not
// application/json, while a body without Content-Type is taken as JSON); a
// Backend failure is 503 when the northbound database is disconnected and
// 500 otherwise. HEAD is GET without the body. Handlers return errors
// instead of writing error responses, as in Tailscale's tsweb, so that one
// function decides status codes.
//
// NewServer and Listen bound what a client can hold (Limits: header, body,
// write and idle timeouts, header size, open connections; beyond the cap
// Accept waits). Listen also terminates TLS itself so that it can rewrite
// the plain-text answers net/http gives, before any handler runs, to
// requests it cannot parse (400 for an invalid %-escape, 431 for headers
// over the limit, 501, 505) into the same JSON errors.
//
// Access control (WithAuth) is a bearer token per request, checked before
// routing: a tokens file (ParseTokens) gives each token the role reader
// (GET only, else 403) or admin; a missing or unknown token is 401 with
// WWW-Authenticate: Bearer. /healthz stays open, /metrics too unless
// WithMetricsAuth. Only SHA-256 digests of the tokens are kept, compared
// in constant time, and the access log never includes request headers.
package rest
