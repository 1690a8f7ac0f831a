package openflow

import (
	"encoding/binary"
	"strings"
	"testing"
)

// flowDescEntry builds one ofp_flow_desc with an empty OXM match, the given
// ofp_stats length field (4 + the OXS bytes, when honest) and no
// instructions.
func flowDescEntry(cookie uint64, statsLen uint16, oxs ...byte) []byte {
	e := make([]byte, 24, 64)
	binary.BigEndian.PutUint64(e[16:24], cookie)
	e = append(e, 0, 1, 0, 4, 0, 0, 0, 0) // OFPMT_OXM, length 4, padding
	e = append(e, 0, 0, byte(statsLen>>8), byte(statsLen))
	e = append(e, oxs...)
	for len(e)%8 != 0 {
		e = append(e, 0)
	}
	binary.BigEndian.PutUint16(e[0:2], uint16(len(e)))
	return e
}

// TestParseFlowDescsStatsBelowMinimum is the reported crash: a flow_desc
// whose ofp_stats length is below the 4 bytes of its own header made
// parseFlowDescs slice e[36:32] and panic, taking ferryd down.
func TestParseFlowDescsStatsBelowMinimum(t *testing.T) {
	for sl := range uint16(4) {
		body := flowDescEntry(1, sl)
		_, err := parseFlowDescs(body, nil)
		if err == nil || !strings.HasPrefix(err.Error(), "openflow: ") {
			t.Errorf("stats length %d: err = %v, want an openflow: error", sl, err)
		}
	}
}
