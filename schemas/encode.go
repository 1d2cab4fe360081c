package schemas

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// EncodeDecision appends the JSON encoding of d to buf. It writes exactly
// what encoding/json would (a test holds it to that), without reflection
// and without allocating beyond buf's growth; the hot path reuses buf.
func EncodeDecision(buf []byte, d *Decision) ([]byte, error) {
	buf = append(buf, `{"event_id":`...)
	buf = appendString(buf, d.EventID)
	buf = append(buf, `,"user_id":`...)
	buf = appendString(buf, d.UserID)
	buf = append(buf, `,"ip":`...)
	buf = appendString(buf, d.IP)
	buf = append(buf, `,"occurred_at":`...)
	buf = appendTime(buf, d.OccurredAt)
	buf = append(buf, `,"decided_at":`...)
	buf = appendTime(buf, d.DecidedAt)
	buf = append(buf, `,"score":`...)
	buf = strconv.AppendInt(buf, int64(d.Score), 10)
	buf = append(buf, `,"decision":`...)
	buf = appendString(buf, string(d.Decision))
	if d.Lock != nil {
		buf = append(buf, `,"lock":`...)
		buf = AppendLock(buf, d.Lock)
	}
	buf = append(buf, `,"reasons":`...)
	if d.Reasons == nil {
		buf = append(buf, "null"...)
	} else {
		buf = append(buf, '[')
		for i, r := range d.Reasons {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, `{"rule":`...)
			buf = appendString(buf, r.Rule)
			buf = append(buf, `,"weight":`...)
			buf = strconv.AppendInt(buf, int64(r.Weight), 10)
			if r.Detail != "" {
				buf = append(buf, `,"detail":`...)
				buf = appendString(buf, r.Detail)
			}
			buf = append(buf, '}')
		}
		buf = append(buf, ']')
	}
	if len(d.Shadow) > 0 {
		buf = append(buf, `,"shadow":[`...)
		for i, s := range d.Shadow {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, `{"rule":`...)
			buf = appendString(buf, s.Rule)
			buf = append(buf, `,"weight":`...)
			buf = strconv.AppendInt(buf, int64(s.Weight), 10)
			buf = append(buf, '}')
		}
		buf = append(buf, ']')
	}
	buf = append(buf, `,"rules_version":`...)
	buf = appendString(buf, d.RulesVersion)
	if fb := d.Feedback; fb != nil {
		buf = append(buf, `,"feedback":{"label":`...)
		buf = appendString(buf, string(fb.Label))
		buf = append(buf, `,"event_id":`...)
		buf = appendString(buf, fb.EventID)
		if fb.TenantID != "" {
			buf = append(buf, `,"tenant_id":`...)
			buf = appendString(buf, fb.TenantID)
		}
		buf = append(buf, `,"network":`...)
		buf = appendString(buf, fb.Network)
		if fb.DeviceID != "" {
			buf = append(buf, `,"device_id":`...)
			buf = appendString(buf, fb.DeviceID)
		}
		buf = append(buf, '}')
	}
	buf = append(buf, '}')
	return buf, nil
}

// AppendLock appends l as JSON, byte for byte what encoding/json writes
// (a decision's lock, and the locks of a status lookup).
func AppendLock(buf []byte, l *Lock) []byte {
	buf = append(buf, `{"scope":`...)
	buf = appendString(buf, string(l.Scope))
	buf = append(buf, `,"key":`...)
	buf = appendString(buf, l.Key)
	if l.TenantID != "" {
		buf = append(buf, `,"tenant_id":`...)
		buf = appendString(buf, l.TenantID)
	}
	buf = append(buf, `,"until":`...)
	buf = appendTime(buf, l.Until)
	if l.Rule != "" {
		buf = append(buf, `,"rule":`...)
		buf = appendString(buf, l.Rule)
	}
	return append(buf, '}')
}

func appendTime(buf []byte, t time.Time) []byte {
	buf = append(buf, '"')
	buf = t.AppendFormat(buf, time.RFC3339Nano)
	return append(buf, '"')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string the way encoding/json does:
// HTML-sensitive characters and U+2028/U+2029 escaped, invalid UTF-8
// replaced by U+FFFD.
func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch b {
			case '\\', '"':
				buf = append(buf, '\\', b)
			case '\b':
				buf = append(buf, '\\', 'b')
			case '\f':
				buf = append(buf, '\\', 'f')
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
