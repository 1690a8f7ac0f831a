// Package ui serves ferry's topology page: a map of the chassis, gateways
// and tunnels with their health, the switches they carry and where each
// port is bound. ferryd mounts it at /ui/ beside the REST API.
//
// The page is plain JavaScript and SVG embedded in the binary (no CDN, no
// npm, no build step): it works offline and there is no lockfile to keep.
// The assets hold no data, so they are served without a token; the page
// reads everything it draws from the REST API with the operator's bearer
// token (see docs/operations.md, "The topology page").
package ui
