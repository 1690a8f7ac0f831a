package openflow

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// ErrDisconnected is returned (wrapped) by every request on a session whose
// connection is gone, including requests that were waiting for a reply when
// it went. The switch will redial; callers wait for the next session.
var ErrDisconnected = errors.New("openflow: switch disconnected")

// IsDisconnected reports whether err means the session's connection is gone.
func IsDisconnected(err error) bool { return errors.Is(err, ErrDisconnected) }

// opError says which request err failed, wrapping it (callers branch on
// ErrDisconnected and *Error) without repeating its "openflow: " prefix.
func opError(op string, err error) error {
	return &wrapped{msg: "openflow: " + op + ": " + strings.TrimPrefix(err.Error(), "openflow: "), err: err}
}

type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }

// Error is an OFPT_ERROR the switch sent in reply to one of our messages.
type Error struct {
	Type, Code uint16
	// ExpType and Experimenter are set for OFPET_EXPERIMENTER errors.
	ExpType      uint16
	Experimenter uint32
	// Op describes the message that failed ("flow_mod add table=10, ...")
	// when the session knows it; empty otherwise.
	Op string
	// Data is the start of the offending message as echoed by the switch.
	Data []byte
}

func (e *Error) Error() string { return "openflow: " + e.describe() }

func (e *Error) describe() string {
	var b strings.Builder
	b.WriteString("switch rejected ")
	if e.Op != "" {
		b.WriteString(e.Op)
	} else if len(e.Data) >= 8 {
		fmt.Fprintf(&b, "%s (xid %#x)", msgTypeName(e.Data[1]), binary.BigEndian.Uint32(e.Data[4:8]))
	} else {
		b.WriteString("request")
	}
	b.WriteString(": ")
	b.WriteString(e.Name())
	return b.String()
}

// BundleError is returned by Commit when the switch rejected the bundle;
// nothing of it was applied. It unwraps to the *Error about the first
// failing message, when the switch named one.
type BundleError struct {
	Messages int    // messages in the bundle
	Stage    string // "add", "open", "close" or "commit"
	Errs     []*Error
	Err      error // the stage's error when no message error was reported
}

func (e *BundleError) Error() string {
	head := fmt.Sprintf("openflow: bundle of %d messages not applied: ", e.Messages)
	if len(e.Errs) == 0 {
		if e.Err == nil {
			return head + e.Stage + " failed"
		}
		return head + e.Stage + " failed: " + strings.TrimPrefix(e.Err.Error(), "openflow: ")
	}
	s := head + e.Errs[0].describe()
	if len(e.Errs) > 1 {
		s += fmt.Sprintf(" (and %d more errors)", len(e.Errs)-1)
	}
	return s
}

func (e *BundleError) Unwrap() error {
	if len(e.Errs) > 0 {
		return e.Errs[0]
	}
	return e.Err
}

// Name renders type and code the way ovs-ofctl does, e.g.
// "OFPBAC_BAD_OUT_GROUP", falling back to numbers for codes it does not know.
func (e *Error) Name() string {
	if e.Type == errTypeExperimenter {
		return fmt.Sprintf("OFPET_EXPERIMENTER(experimenter=%#x,exp_type=%d)", e.Experimenter, e.ExpType)
	}
	t, ok := errorNames[e.Type]
	if !ok {
		return fmt.Sprintf("OFPET(type=%d,code=%d)", e.Type, e.Code)
	}
	if int(e.Code) < len(t.codes) {
		return t.codes[e.Code]
	}
	return fmt.Sprintf("%s(code=%d)", t.name, e.Code)
}

const errTypeExperimenter = 0xffff

// errorHeaderLen is an OFPT_ERROR up to its data: header, type, code.
const errorHeaderLen = 12

// parseError decodes an OFPT_ERROR message. One shorter than its fixed part
// is an error rather than a zero *Error, which would read as
// OFPHFC_INCOMPATIBLE and blame the wrong thing.
func parseError(msg []byte) (*Error, error) {
	if len(msg) < errorHeaderLen {
		return nil, fmt.Errorf("openflow: OFPT_ERROR of %d bytes is shorter than its %d-byte header", len(msg), errorHeaderLen)
	}
	e := &Error{}
	e.Type = binary.BigEndian.Uint16(msg[8:10])
	e.Code = binary.BigEndian.Uint16(msg[10:12])
	data := msg[errorHeaderLen:]
	if e.Type == errTypeExperimenter && len(data) >= 4 {
		e.ExpType = e.Code
		e.Code = 0
		e.Experimenter = binary.BigEndian.Uint32(data[:4])
		data = data[4:]
	}
	e.Data = append([]byte(nil), data...)
	return e, nil
}

type errorType struct {
	name  string
	codes []string
}

// errorNames follows OpenFlow 1.5.1 §7.5.4 (ofp_error_type and the code
// enums), in wire order.
var errorNames = map[uint16]errorType{
	0: {"OFPET_HELLO_FAILED", []string{"OFPHFC_INCOMPATIBLE", "OFPHFC_EPERM"}},
	1: {"OFPET_BAD_REQUEST", []string{"OFPBRC_BAD_VERSION", "OFPBRC_BAD_TYPE", "OFPBRC_BAD_MULTIPART",
		"OFPBRC_BAD_EXPERIMENTER", "OFPBRC_BAD_EXP_TYPE", "OFPBRC_EPERM", "OFPBRC_BAD_LEN",
		"OFPBRC_BUFFER_EMPTY", "OFPBRC_BUFFER_UNKNOWN", "OFPBRC_BAD_TABLE_ID", "OFPBRC_IS_SLAVE",
		"OFPBRC_BAD_PORT", "OFPBRC_BAD_PACKET", "OFPBRC_MULTIPART_BUFFER_OVERFLOW",
		"OFPBRC_MULTIPART_REQUEST_TIMEOUT", "OFPBRC_MULTIPART_REPLY_TIMEOUT",
		"OFPBRC_MULTIPART_BAD_SCHED", "OFPBRC_PIPELINE_FIELDS_ONLY", "OFPBRC_UNKNOWN"}},
	2: {"OFPET_BAD_ACTION", []string{"OFPBAC_BAD_TYPE", "OFPBAC_BAD_LEN", "OFPBAC_BAD_EXPERIMENTER",
		"OFPBAC_BAD_EXP_TYPE", "OFPBAC_BAD_OUT_PORT", "OFPBAC_BAD_ARGUMENT", "OFPBAC_EPERM",
		"OFPBAC_TOO_MANY", "OFPBAC_BAD_QUEUE", "OFPBAC_BAD_OUT_GROUP", "OFPBAC_MATCH_INCONSISTENT",
		"OFPBAC_UNSUPPORTED_ORDER", "OFPBAC_BAD_TAG", "OFPBAC_BAD_SET_TYPE", "OFPBAC_BAD_SET_LEN",
		"OFPBAC_BAD_SET_ARGUMENT", "OFPBAC_BAD_SET_MASK", "OFPBAC_BAD_METER"}},
	3: {"OFPET_BAD_INSTRUCTION", []string{"OFPBIC_UNKNOWN_INST", "OFPBIC_UNSUP_INST",
		"OFPBIC_BAD_TABLE_ID", "OFPBIC_UNSUP_METADATA", "OFPBIC_UNSUP_METADATA_MASK",
		"OFPBIC_BAD_EXPERIMENTER", "OFPBIC_BAD_EXP_TYPE", "OFPBIC_BAD_LEN", "OFPBIC_EPERM",
		"OFPBIC_DUP_INST"}},
	4: {"OFPET_BAD_MATCH", []string{"OFPBMC_BAD_TYPE", "OFPBMC_BAD_LEN", "OFPBMC_BAD_TAG",
		"OFPBMC_BAD_DL_ADDR_MASK", "OFPBMC_BAD_NW_ADDR_MASK", "OFPBMC_BAD_WILDCARDS",
		"OFPBMC_BAD_FIELD", "OFPBMC_BAD_VALUE", "OFPBMC_BAD_MASK", "OFPBMC_BAD_PREREQ",
		"OFPBMC_DUP_FIELD", "OFPBMC_EPERM"}},
	5: {"OFPET_FLOW_MOD_FAILED", []string{"OFPFMFC_UNKNOWN", "OFPFMFC_TABLE_FULL",
		"OFPFMFC_BAD_TABLE_ID", "OFPFMFC_OVERLAP", "OFPFMFC_EPERM", "OFPFMFC_BAD_TIMEOUT",
		"OFPFMFC_BAD_COMMAND", "OFPFMFC_BAD_FLAGS", "OFPFMFC_CANT_SYNC", "OFPFMFC_BAD_PRIORITY",
		"OFPFMFC_IS_SYNC"}},
	6: {"OFPET_GROUP_MOD_FAILED", []string{"OFPGMFC_GROUP_EXISTS", "OFPGMFC_INVALID_GROUP",
		"OFPGMFC_WEIGHT_UNSUPPORTED", "OFPGMFC_OUT_OF_GROUPS", "OFPGMFC_OUT_OF_BUCKETS",
		"OFPGMFC_CHAINING_UNSUPPORTED", "OFPGMFC_WATCH_UNSUPPORTED", "OFPGMFC_LOOP",
		"OFPGMFC_UNKNOWN_GROUP", "OFPGMFC_CHAINED_GROUP", "OFPGMFC_BAD_TYPE",
		"OFPGMFC_BAD_COMMAND", "OFPGMFC_BAD_BUCKET", "OFPGMFC_BAD_WATCH", "OFPGMFC_EPERM",
		"OFPGMFC_UNKNOWN_BUCKET", "OFPGMFC_BUCKET_EXISTS"}},
	7:  {"OFPET_PORT_MOD_FAILED", []string{"OFPPMFC_BAD_PORT", "OFPPMFC_BAD_HW_ADDR", "OFPPMFC_BAD_CONFIG", "OFPPMFC_BAD_ADVERTISE", "OFPPMFC_EPERM"}},
	8:  {"OFPET_TABLE_MOD_FAILED", []string{"OFPTMFC_BAD_TABLE", "OFPTMFC_BAD_CONFIG", "OFPTMFC_EPERM"}},
	9:  {"OFPET_QUEUE_OP_FAILED", []string{"OFPQOFC_BAD_PORT", "OFPQOFC_BAD_QUEUE", "OFPQOFC_EPERM"}},
	10: {"OFPET_SWITCH_CONFIG_FAILED", []string{"OFPSCFC_BAD_FLAGS", "OFPSCFC_BAD_LEN", "OFPSCFC_EPERM"}},
	11: {"OFPET_ROLE_REQUEST_FAILED", []string{"OFPRRFC_STALE", "OFPRRFC_UNSUP", "OFPRRFC_BAD_ROLE", "OFPRRFC_ID_UNSUP", "OFPRRFC_ID_IN_USE"}},
	12: {"OFPET_METER_MOD_FAILED", nil},
	13: {"OFPET_TABLE_FEATURES_FAILED", nil},
	14: {"OFPET_BAD_PROPERTY", []string{"OFPBPC_BAD_TYPE", "OFPBPC_BAD_LEN", "OFPBPC_BAD_VALUE",
		"OFPBPC_TOO_MANY", "OFPBPC_DUP_TYPE", "OFPBPC_BAD_EXPERIMENTER", "OFPBPC_BAD_EXP_TYPE",
		"OFPBPC_BAD_EXP_VALUE", "OFPBPC_EPERM"}},
	15: {"OFPET_ASYNC_CONFIG_FAILED", []string{"OFPACFC_INVALID", "OFPACFC_UNSUPPORTED", "OFPACFC_EPERM"}},
	16: {"OFPET_FLOW_MONITOR_FAILED", nil},
	17: {"OFPET_BUNDLE_FAILED", []string{"OFPBFC_UNKNOWN", "OFPBFC_EPERM", "OFPBFC_BAD_ID",
		"OFPBFC_BUNDLE_EXIST", "OFPBFC_BUNDLE_CLOSED", "OFPBFC_OUT_OF_BUNDLES", "OFPBFC_BAD_TYPE",
		"OFPBFC_BAD_FLAGS", "OFPBFC_MSG_BAD_LEN", "OFPBFC_MSG_BAD_XID", "OFPBFC_MSG_UNSUP",
		"OFPBFC_MSG_CONFLICT", "OFPBFC_MSG_TOO_MANY", "OFPBFC_MSG_FAILED", "OFPBFC_TIMEOUT",
		"OFPBFC_BUNDLE_IN_PROGRESS", "OFPBFC_SCHED_NOT_SUPPORTED", "OFPBFC_SCHED_FUTURE",
		"OFPBFC_SCHED_PAST"}},
}

var msgTypeNames = []string{"OFPT_HELLO", "OFPT_ERROR", "OFPT_ECHO_REQUEST", "OFPT_ECHO_REPLY",
	"OFPT_EXPERIMENTER", "OFPT_FEATURES_REQUEST", "OFPT_FEATURES_REPLY", "OFPT_GET_CONFIG_REQUEST",
	"OFPT_GET_CONFIG_REPLY", "OFPT_SET_CONFIG", "OFPT_PACKET_IN", "OFPT_FLOW_REMOVED",
	"OFPT_PORT_STATUS", "OFPT_PACKET_OUT", "OFPT_FLOW_MOD", "OFPT_GROUP_MOD", "OFPT_PORT_MOD",
	"OFPT_TABLE_MOD", "OFPT_MULTIPART_REQUEST", "OFPT_MULTIPART_REPLY", "OFPT_BARRIER_REQUEST",
	"OFPT_BARRIER_REPLY", "22", "23", "OFPT_ROLE_REQUEST", "OFPT_ROLE_REPLY",
	"OFPT_GET_ASYNC_REQUEST", "OFPT_GET_ASYNC_REPLY", "OFPT_SET_ASYNC", "OFPT_METER_MOD",
	"OFPT_ROLE_STATUS", "OFPT_TABLE_STATUS", "OFPT_REQUESTFORWARD", "OFPT_BUNDLE_CONTROL",
	"OFPT_BUNDLE_ADD_MESSAGE", "OFPT_CONTROLLER_STATUS"}

func msgTypeName(t uint8) string {
	if int(t) < len(msgTypeNames) {
		return msgTypeNames[t]
	}
	return fmt.Sprintf("OFPT(%d)", t)
}
