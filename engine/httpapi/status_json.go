package httpapi

import (
	"encoding/json"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/schemas"
)

// appendStatus encodes st as encoding/json would, without reflection:
// status lookups are the gateway's hottest read, and under attack many
// of them find locks.
func appendStatus(b []byte, st *engine.Status) ([]byte, error) {
	b = append(b, `{"locks":`...)
	if st.Locks == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range st.Locks {
			if i > 0 {
				b = append(b, ',')
			}
			b = schemas.AppendLock(b, &st.Locks[i])
		}
		b = append(b, ']')
	}
	b = append(b, `,"counters":`...)
	b, err := schemas.AppendCounters(b, st.Counters)
	if err != nil {
		return b, err
	}
	if st.LastDecision != nil {
		b = append(b, `,"last_decision":`...)
		if b, err = schemas.EncodeDecision(b, st.LastDecision); err != nil {
			return b, err
		}
	}
	if len(st.Trusted) > 0 {
		b = append(b, `,"trusted":[`...)
		for i := range st.Trusted {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendTrustedContext(b, &st.Trusted[i])
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

// appendTrustedContext encodes c as encoding/json would.
func appendTrustedContext(b []byte, c *schemas.TrustedContext) []byte {
	b = append(b, `{"kind":`...)
	b = appendJSONString(b, c.Kind)
	b = append(b, `,"key":`...)
	b = appendJSONString(b, c.Key)
	b = append(b, `,"first_seen":"`...)
	b = c.FirstSeen.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","last_seen":"`...)
	b = c.LastSeen.AppendFormat(b, time.RFC3339Nano)
	return append(b, `"}`...)
}

// appendJSONString appends s quoted; anything that needs escaping goes
// through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
