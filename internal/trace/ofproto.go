package trace

import (
	"strconv"
	"strings"
)

// maxTraceLines bounds what ParseOFProtoTrace reads: a trace of ferry's
// pipeline is a few dozen lines, even with a flood group of many buckets.
const maxTraceLines = 10000

// ParseOFProtoTrace reads the text of ovs-appctl ofproto/trace for a
// packet entering bridge: the flows it hit and the OpenFlow ports it left
// by on that bridge (outputs inside a nested bridge, the underlay bridge
// of a native tunnel, are not the traced bridge's). It is total: any text
// gives a Result.
func ParseOFProtoTrace(bridge, text string) Result {
	var r Result
	type section struct {
		bridge string
		indent int
	}
	stack := []section{{bridge, -1}}
	var pending uint32 // an output that a following line may cancel
	flush := func() {
		if pending != 0 && !contains(r.Outputs, pending) {
			r.Outputs = append(r.Outputs, pending)
		}
		pending = 0
	}
	lines := strings.Split(text, "\n")
	if len(lines) > maxTraceLines {
		lines = lines[:maxTraceLines]
	}
	var last string
	for _, line := range lines {
		trimmed := strings.TrimSpace(line)
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if strings.HasPrefix(line, "Final flow:") || strings.HasPrefix(line, "Datapath actions:") {
			break
		}
		for len(stack) > 1 && trimmed != "" && strings.Trim(trimmed, "-") != "" && indent <= stack[len(stack)-1].indent {
			stack = stack[:len(stack)-1]
		}
		if name, ok := strings.CutPrefix(trimmed, `bridge("`); ok {
			flush()
			name, _, _ = strings.Cut(name, `"`)
			if len(stack) == 1 && name == bridge && stack[0].indent < 0 {
				stack[0].indent = indent
				continue
			}
			stack = append(stack, section{name, indent})
			continue
		}
		if len(stack) > 1 {
			continue
		}
		switch {
		case strings.Contains(trimmed, "skipping output to input port"):
			pending = 0
		case strings.HasPrefix(trimmed, "output:"):
			flush()
			if n, err := strconv.ParseUint(strings.TrimPrefix(trimmed, "output:"), 10, 32); err == nil && n != 0 {
				pending = uint32(n)
			}
		case strings.HasPrefix(trimmed, "group:"):
			flush()
			if n, err := strconv.ParseUint(strings.TrimPrefix(trimmed, "group:"), 10, 32); err == nil {
				r.Groups = append(r.Groups, uint32(n))
			}
		case isTableLine(trimmed):
			flush()
			r.Steps = append(r.Steps, trimmed)
			last = trimmed
		case trimmed == "drop":
			flush()
		}
	}
	flush()
	if len(r.Outputs) == 0 {
		r.Reason = "dropped"
		if last != "" {
			r.Reason = "dropped after " + last
		}
	}
	return r
}

// isTableLine recognises " 0. in_port=1, priority 100, cookie 0x…" and
// "10. No match.".
func isTableLine(s string) bool {
	n, rest, ok := strings.Cut(s, ". ")
	if !ok || n == "" || len(n) > 3 {
		return false
	}
	_, err := strconv.ParseUint(n, 10, 8)
	return err == nil && rest != ""
}

func contains(s []uint32, v uint32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
