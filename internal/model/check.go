package model

import "errors"

// Results of one conformance check item.
const (
	CheckPass        = "pass"
	CheckFail        = "fail"
	CheckUnsupported = "unsupported"
)

// GatewayCheck is the graded report of a VTEP conformance check
// (POST /v1/gateways/{name}/check).
type GatewayCheck struct {
	Gateway string      `json:"gateway"`
	Items   []CheckItem `json:"items"`
	// LeftBehind names the rows the check wrote and could not remove
	// (empty when the VTEP is as it was).
	LeftBehind []string `json:"left_behind"`
}

// CheckItem is one graded item: pass, fail or unsupported, with the
// evidence (a sentence and the rows seen).
type CheckItem struct {
	Name     string `json:"name"`
	Result   string `json:"result"`
	Evidence string `json:"evidence"`
}

// Failed reports whether any item failed.
func (c GatewayCheck) Failed() bool {
	for _, it := range c.Items {
		if it.Result == CheckFail {
			return true
		}
	}
	return false
}

// Errors of a conformance check that did not run (rest maps them to 409
// and 503).
var (
	ErrCheckRunning   = errors.New("a check of this gateway is already running")
	ErrGatewayOffline = errors.New("the gateway's database is not connected")
	// ErrNotOwner: another ferryd replica drives the gateway; the check
	// must run there, where the gateway loop writes.
	ErrNotOwner = errors.New("another replica drives this gateway")
)
