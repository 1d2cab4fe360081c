package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/schemas"
)

// appendStatus encodes st as encoding/json would (counters in key
// order), without reflection: status lookups are the gateway's hottest
// read, and under attack many of them find locks.
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
	if st.Counters == nil {
		b = append(b, "null"...)
	} else {
		var names [32]string
		keys := names[:0]
		for k := range st.Counters {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONKey(b, k)
			var err error
			if b, err = appendJSONNumber(b, st.Counters[k]); err != nil {
				return b, fmt.Errorf("counter %s: %w", k, err)
			}
		}
		b = append(b, '}')
	}
	if st.LastDecision != nil {
		b = append(b, `,"last_decision":`...)
		var err error
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

// errNotJSONNumber is returned for a NaN or infinite counter, which JSON
// cannot hold (encoding/json refuses them too).
var errNotJSONNumber = errors.New("NaN or infinity is not a JSON number")

// appendJSONNumber appends f as encoding/json writes a float64: decimal
// between 1e-6 and 1e21, an exponent (without a leading zero) outside.
// Counters are mostly whole numbers, which take strconv.AppendInt instead
// of the shortest float formatting.
func appendJSONNumber(b []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, errNotJSONNumber
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 && (f != 0 || !math.Signbit(f)) {
		return strconv.AppendInt(b, int64(f), 10), nil // exact: every such integer fits
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // 1e-07 -> 1e-7, as encoding/json
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
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

// appendJSONKey appends "k": for a counter name; names are the rules'
// feature names (lower-case ASCII), anything else goes through
// encoding/json.
func appendJSONKey(b []byte, k string) []byte {
	return append(appendJSONString(b, k), ':')
}
