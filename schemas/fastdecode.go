package schemas

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeFast is Decode's fast path: one pass over the bytes of a LoginEvent
// object, no reflection, one allocation for the identifier strings
// together (see idStrings) and one per other string the event keeps
// (common enum values are interned and cost none, and so is the user
// agent with a Decoder's agents).
//
// It only has to be fast on well-formed input. On anything it does not
// handle exactly as decodeSlow (encoding/json) would — a syntax error, a
// wrong type, invalid UTF-8, a lone surrogate escape, an oversize message,
// deep nesting, a bad occurred_at — it returns handled=false without
// touching ev, and Decode runs decodeSlow, which words the error. When it
// handles the message, err is Validate's verdict, exactly as in decodeSlow.
//
// Semantics kept from encoding/json: the last of duplicate keys wins; a
// repeated "attributes" object is merged into the map; null leaves a string
// field as it was, sets Attributes to nil and an attribute value to "";
// keys match exactly, else case-insensitively (bytes.EqualFold is the same
// folding encoding/json uses); unknown fields are skipped. Only whitespace
// may follow the object (decodeSlow also lets a stray '}' or ']' pass, as
// json.Decoder.More does; decodeFast leaves that to it).
func decodeFast(data []byte, ev *LoginEvent, agents *interner) (handled bool, err error) {
	if len(data) > MaxEventBytes {
		return false, nil
	}
	var e LoginEvent
	var ids idStrings
	occurredAt, ok := decodeEvent(data, &e, &ids, agents)
	if !ok || len(occurredAt) == 0 {
		return false, nil
	}
	t, ok := parseTimeRFC3339(occurredAt)
	if !ok {
		parsed, err := time.Parse(time.RFC3339Nano, string(occurredAt))
		if err != nil {
			return false, nil
		}
		t = parsed.UTC()
	}
	ids.assign(&e)
	*ev = e
	ev.OccurredAt = t
	return true, Validate(ev)
}

// The identifier fields of an event, which share one allocation.
const (
	idEventID = iota
	idUserID
	idIP
	idDeviceID
	idTenantID
	idChallengeOf
	idCount
)

// idStrings collects the values of an event's identifier fields while
// decodeEvent reads it, so that assign can make them substrings of one
// string: one allocation instead of up to six. They live about as long
// as each other (a decision keeps event_id, user_id and ip; the state
// copies the keys it keeps), unlike user_agent, which stays separate so
// that a long one is not kept alive by a remembered decision.
type idStrings struct {
	raw [idCount][]byte // into the message, or into unescaped
	set [idCount]bool   // the field had a string value (null leaves it unset)
	// unescaped holds the values that had escapes, decoded.
	unescaped []byte
}

// value reads field id's string or null, like stringValue.
func (s *idStrings) value(data []byte, i int, id int) int {
	var raw []byte
	var isNull bool
	var next int
	raw, s.unescaped, isNull, next = stringToken(data, i, s.unescaped)
	if next >= 0 && !isNull {
		s.raw[id], s.set[id] = raw, true
	}
	return next
}

// assign sets e's identifier fields that had a value.
func (s *idStrings) assign(e *LoginEvent) {
	n := 0
	for _, raw := range s.raw {
		n += len(raw)
	}
	var stack [512]byte
	buf := stack[:0]
	if n > len(stack) {
		buf = make([]byte, 0, n)
	}
	for _, raw := range s.raw {
		buf = append(buf, raw...)
	}
	all := string(buf)
	fields := [idCount]*string{&e.EventID, &e.UserID, &e.IP, &e.DeviceID, &e.TenantID, &e.ChallengeOf}
	off := 0
	for id, raw := range s.raw {
		if s.set[id] {
			*fields[id] = all[off : off+len(raw)]
		}
		off += len(raw)
	}
}

// eventField names a top-level key of a LoginEvent.
type eventField uint8

const (
	fieldUnknown eventField = iota
	fieldEventID
	fieldOccurredAt
	fieldUserID
	fieldOutcome
	fieldIP
	fieldUserAgent
	fieldDeviceID
	fieldFailureReason
	fieldAuthMethod
	fieldTenantID
	fieldChallengeOf
	fieldPasswordFP
	fieldAttributes
)

// eventFieldKeys holds the JSON name of each eventField, for the
// case-insensitive match.
var eventFieldKeys = [...][]byte{
	fieldEventID:       []byte("event_id"),
	fieldOccurredAt:    []byte("occurred_at"),
	fieldUserID:        []byte("user_id"),
	fieldOutcome:       []byte("outcome"),
	fieldIP:            []byte("ip"),
	fieldUserAgent:     []byte("user_agent"),
	fieldDeviceID:      []byte("device_id"),
	fieldFailureReason: []byte("failure_reason"),
	fieldAuthMethod:    []byte("auth_method"),
	fieldTenantID:      []byte("tenant_id"),
	fieldChallengeOf:   []byte("challenge_of"),
	fieldPasswordFP:    []byte("password_fp"),
	fieldAttributes:    []byte("attributes"),
}

// outcomeValues are the outcomes decodeFast interns.
var outcomeValues = []string{string(OutcomeSuccess), string(OutcomeFailure)}

// lookupField finds the field a key names the way encoding/json does: an
// exact match first, else a case-insensitive one ("User_ID", "uſer_id").
func lookupField(key []byte) eventField {
	switch string(key) {
	case "event_id":
		return fieldEventID
	case "occurred_at":
		return fieldOccurredAt
	case "user_id":
		return fieldUserID
	case "outcome":
		return fieldOutcome
	case "ip":
		return fieldIP
	case "user_agent":
		return fieldUserAgent
	case "device_id":
		return fieldDeviceID
	case "failure_reason":
		return fieldFailureReason
	case "auth_method":
		return fieldAuthMethod
	case "tenant_id":
		return fieldTenantID
	case "challenge_of":
		return fieldChallengeOf
	case "password_fp":
		return fieldPasswordFP
	case "attributes":
		return fieldAttributes
	}
	for f := fieldEventID; f <= fieldAttributes; f++ {
		if bytes.EqualFold(key, eventFieldKeys[f]) {
			return f
		}
	}
	return fieldUnknown
}

// maxSkipDepth bounds the nesting of skipped values. Deeper input goes to
// decodeSlow (encoding/json allows 10000 levels, then errors).
const maxSkipDepth = 200

// The scanning functions below take data and the index where their token
// starts (possibly len(data)) and return the index after it, or -1 for
// input decodeFast leaves to decodeSlow. Passing the index rather than
// keeping it in a struct keeps it in a register.

// decodeEvent reads the whole message into e, the identifier fields into
// ids, and returns the (unescaped) occurred_at text, which the caller
// parses. The user agent is interned in agents (nil: copied).
func decodeEvent(data []byte, e *LoginEvent, ids *idStrings, agents *interner) (occurredAt []byte, ok bool) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return nil, false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return nil, skipSpace(data, i+1) == len(data)
	}
	for {
		end, escaped := scanString(data, i)
		if end < 0 {
			return nil, false
		}
		var field eventField
		if escaped {
			var buf [64]byte
			key, ok := appendUnescaped(buf[:0], data[i+1:end])
			if !ok {
				return nil, false
			}
			field = lookupField(key)
		} else {
			field = lookupField(data[i+1 : end])
		}
		if i = colon(data, end+1); i < 0 {
			return nil, false
		}
		switch field {
		case fieldEventID:
			i = ids.value(data, i, idEventID)
		case fieldOccurredAt:
			i = timeValue(data, i, &occurredAt)
		case fieldUserID:
			i = ids.value(data, i, idUserID)
		case fieldOutcome:
			outcome := string(e.Outcome)
			i = stringValue(data, i, &outcome, outcomeValues)
			e.Outcome = Outcome(outcome)
		case fieldIP:
			i = ids.value(data, i, idIP)
		case fieldUserAgent:
			i = internedValue(data, i, &e.UserAgent, agents)
		case fieldDeviceID:
			i = ids.value(data, i, idDeviceID)
		case fieldFailureReason:
			i = stringValue(data, i, &e.FailureReason, failureReasons)
		case fieldAuthMethod:
			i = stringValue(data, i, &e.AuthMethod, authMethods)
		case fieldTenantID:
			i = ids.value(data, i, idTenantID)
		case fieldChallengeOf:
			i = ids.value(data, i, idChallengeOf)
		case fieldPasswordFP:
			// Not with the identifiers: a remembered decision keeps
			// their shared string alive, and the fingerprint must not
			// outlive the event.
			i = stringValue(data, i, &e.PasswordFP, nil)
		case fieldAttributes:
			i = attributesValue(data, i, &e.Attributes)
		default:
			i = skipValue(data, i, 1)
		}
		var c byte
		switch i, c = afterMember(data, i); c {
		case ',':
			continue
		case '}':
			return occurredAt, skipSpace(data, i) == len(data)
		default:
			return nil, false
		}
	}
}

// skipSpace skips JSON whitespace.
func skipSpace(data []byte, i int) int {
	for i < len(data) {
		// Compact JSON has no whitespace: the first comparison tells.
		if c := data[i]; c > ' ' || c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return i
		}
		i++
	}
	return i
}

// colon consumes the ':' after a key and the whitespace around it.
func colon(data []byte, i int) int {
	i = skipSpace(data, i)
	if i >= len(data) || data[i] != ':' {
		return -1
	}
	return skipSpace(data, i+1)
}

// afterMember consumes what follows a member of an object or array (i < 0
// passes through): ',' and the whitespace after it, or the closing
// bracket. It returns that byte, or 0 for anything else.
func afterMember(data []byte, i int) (next int, c byte) {
	if i < 0 {
		return -1, 0
	}
	i = skipSpace(data, i)
	if i >= len(data) {
		return -1, 0
	}
	switch c = data[i]; c {
	case ',':
		return skipSpace(data, i+1), c
	case '}', ']':
		return i + 1, c
	}
	return -1, 0
}

// stringValue reads a string or null into *dst. null leaves *dst as it is,
// like encoding/json. A value equal to one of common is stored as that
// string, without allocating.
func stringValue(data []byte, i int, dst *string, common []string) int {
	var stack [128]byte
	raw, _, isNull, next := stringToken(data, i, stack[:0])
	if next < 0 || isNull {
		return next
	}
	for _, s := range common {
		if string(raw) == s {
			*dst = s
			return next
		}
	}
	*dst = string(raw)
	return next
}

// internedValue is stringValue without common values, the string taken
// from (or put in) in.
func internedValue(data []byte, i int, dst *string, in *interner) int {
	var stack [128]byte
	raw, _, isNull, next := stringToken(data, i, stack[:0])
	if next >= 0 && !isNull {
		*dst = in.string(raw)
	}
	return next
}

// timeValue reads occurred_at's string or null into *dst without copying
// it unless it has escapes.
func timeValue(data []byte, i int, dst *[]byte) int {
	raw, _, isNull, next := stringToken(data, i, nil)
	if next >= 0 && !isNull {
		*dst = raw
	}
	return next
}

// stringToken reads the string or null at data[i]. A string's bytes are
// a slice of data, or, when it has escapes, its decoded bytes appended to
// buf (grown is buf after the append; raw keeps its bytes when later
// appends move it). next is the index after the token, or -1 when it is
// not a valid string or null.
func stringToken(data []byte, i int, buf []byte) (raw, grown []byte, isNull bool, next int) {
	if i < len(data) && data[i] == 'n' {
		return nil, buf, true, literal(data, i, "null")
	}
	end, escaped := scanString(data, i)
	if end < 0 {
		return nil, buf, false, -1
	}
	raw = data[i+1 : end]
	if escaped {
		start := len(buf)
		var ok bool
		if buf, ok = appendUnescaped(buf, raw); !ok {
			return nil, buf, false, -1
		}
		raw = buf[start:len(buf):len(buf)]
	}
	return raw, buf, false, end + 1
}

// attributesValue reads an object of strings (merged into *dst, as
// encoding/json does with a non-nil map) or null (which sets *dst to nil).
func attributesValue(data []byte, i int, dst *map[string]string) int {
	if i >= len(data) {
		return -1
	}
	switch data[i] {
	case 'n':
		*dst = nil
		return literal(data, i, "null")
	case '{':
	default:
		return -1
	}
	m := *dst
	if m == nil {
		m = make(map[string]string)
		*dst = m
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1
	}
	for {
		end, escaped := scanString(data, i)
		if end < 0 {
			return -1
		}
		key := data[i+1 : end]
		if escaped {
			var buf [128]byte
			var ok bool
			if key, ok = appendUnescaped(buf[:0], key); !ok {
				return -1
			}
		}
		if i = colon(data, end+1); i < 0 {
			return -1
		}
		var value string
		if i = stringValue(data, i, &value, nil); i < 0 {
			return -1
		}
		m[string(key)] = value
		var c byte
		switch i, c = afterMember(data, i); c {
		case ',':
			continue
		case '}':
			return i
		default:
			return -1
		}
	}
}

// skipValue validates and skips any JSON value; depth is the nesting level
// of the value's container.
func skipValue(data []byte, i, depth int) int {
	if i >= len(data) {
		return -1
	}
	switch open := data[i]; open {
	case '"':
		end, _ := scanString(data, i)
		if end < 0 {
			return -1
		}
		return end + 1
	case '{', '[':
		if depth >= maxSkipDepth {
			return -1
		}
		closing := byte('}')
		if open == '[' {
			closing = ']'
		}
		i = skipSpace(data, i+1)
		if i < len(data) && data[i] == closing {
			return i + 1
		}
		for {
			if open == '{' {
				end, _ := scanString(data, i)
				if end < 0 {
					return -1
				}
				if i = colon(data, end+1); i < 0 {
					return -1
				}
			}
			var c byte
			switch i, c = afterMember(data, skipValue(data, i, depth+1)); c {
			case ',':
				continue
			case closing:
				return i
			default:
				return -1
			}
		}
	case 't':
		return literal(data, i, "true")
	case 'f':
		return literal(data, i, "false")
	case 'n':
		return literal(data, i, "null")
	default:
		return number(data, i)
	}
}

func literal(data []byte, i int, word string) int {
	if !bytes.HasPrefix(data[i:], []byte(word)) {
		return -1
	}
	return i + len(word)
}

// number skips -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func number(data []byte, i int) int {
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i >= len(data):
		return -1
	case data[i] == '0':
		i++
	case '1' <= data[i] && data[i] <= '9':
		i = skipDigits(data, i)
	default:
		return -1
	}
	if i < len(data) && data[i] == '.' {
		start := i + 1
		if i = skipDigits(data, start); i == start {
			return -1
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		start := i
		if i = skipDigits(data, start); i == start {
			return -1
		}
	}
	return i
}

func skipDigits(data []byte, i int) int {
	for i < len(data) && isDigit(data[i]) {
		i++
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// SWAR constants: every byte 0x01, every byte 0x80.
const (
	lowBits  = 0x0101010101010101
	highBits = 0x8080808080808080
)

// scanString finds the closing quote of the string that opens at data[i],
// checking what encoding/json's scanner checks (no control characters,
// valid escapes) and that the contents are valid UTF-8. It returns the
// quote's index, or -1, and whether the contents hold escapes for
// appendUnescaped.
func scanString(data []byte, i int) (end int, escaped bool) {
	if i < 0 || i >= len(data) || data[i] != '"' {
		return -1, false
	}
	i++
	for {
		// Skip 8 plain bytes (0x20-0x7f, not '"' or '\\') at a time. A
		// byte's high bit ends up set when it is < 0x20 (x-0x20 borrows),
		// '"' or '\\' (the xor is 0 and -1 borrows) or >= 0x80 (| x); the
		// xors of bytes >= 0x80 keep their high bit, so the usual &^
		// masks are not needed. Borrows only start at a real hit, so the
		// lowest flagged byte is one and skipping to it is exact.
		for i+8 <= len(data) {
			x := binary.LittleEndian.Uint64(data[i:])
			special := ((x - lowBits*0x20) | (x ^ lowBits*'"' - lowBits) | (x ^ lowBits*'\\' - lowBits) | x) & highBits
			if special == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(special) / 8
			break
		}
		if i >= len(data) {
			return -1, false
		}
		switch c := data[i]; {
		case c == '"':
			return i, escaped
		case c == '\\':
			if i+1 >= len(data) {
				return -1, false
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(data) {
					return -1, false
				}
				if _, ok := hex4(data[i+2 : i+6]); !ok {
					return -1, false
				}
				i += 6
			default:
				return -1, false
			}
			escaped = true
		case c < 0x20:
			return -1, false
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				return -1, false
			}
			i += size
		}
	}
}

// hex4 decodes the four hex digits of a \u escape.
func hex4(b []byte) (rune, bool) {
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// appendUnescaped appends the string raw (already checked by str) stands
// for. It reports false for a \u surrogate that is not half of a valid
// pair, which encoding/json replaces with U+FFFD and decodeFast leaves to
// it.
func appendUnescaped(dst, raw []byte) ([]byte, bool) {
	for {
		i := bytes.IndexByte(raw, '\\')
		if i < 0 {
			return append(dst, raw...), true
		}
		dst = append(dst, raw[:i]...)
		c := raw[i+1]
		raw = raw[i+2:]
		switch c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, _ := hex4(raw)
			raw = raw[4:]
			if utf16.IsSurrogate(r) {
				if len(raw) < 6 || raw[0] != '\\' || raw[1] != 'u' {
					return dst, false
				}
				low, _ := hex4(raw[2:])
				if r = utf16.DecodeRune(r, low); r == utf8.RuneError {
					return dst, false
				}
				raw = raw[6:]
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, c)
		}
	}
}

// parseTimeRFC3339 parses the common RFC 3339 forms
// (2026-03-01T10:00:00Z, with up to 9 fractional digits, with a ±hh:mm
// offset) into exactly what time.Parse(time.RFC3339Nano, s) followed by
// UTC() gives. It reports false for anything else, valid or not; the
// caller then asks time.Parse.
func parseTimeRFC3339(b []byte) (time.Time, bool) {
	if len(b) < len("2006-01-02T15:04:05Z") || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := decimal(b[0:4])
	month, ok2 := decimal(b[5:7])
	day, ok3 := decimal(b[8:10])
	hour, ok4 := decimal(b[11:13])
	minute, ok5 := decimal(b[14:16])
	second, ok6 := decimal(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) ||
		hour > 23 || minute > 59 || second > 59 {
		return time.Time{}, false
	}
	rest := b[19:]
	nsec := 0
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && isDigit(rest[n]) {
			nsec = nsec*10 + int(rest[n]-'0')
			n++
		}
		digits := n - 1
		if digits == 0 || digits > 9 {
			return time.Time{}, false
		}
		for ; digits < 9; digits++ {
			nsec *= 10
		}
		rest = rest[n:]
	}
	offset := 0
	switch {
	case len(rest) == 1 && rest[0] == 'Z':
	case len(rest) == len("+07:00") && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		offsetHours, ok1 := decimal(rest[1:3])
		offsetMinutes, ok2 := decimal(rest[4:6])
		if !ok1 || !ok2 || offsetHours > 23 || offsetMinutes > 59 {
			return time.Time{}, false
		}
		offset = (offsetHours*60 + offsetMinutes) * 60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	unix := daysSinceEpoch(year, month, day)*86400 + int64(hour*3600+minute*60+second-offset)
	return time.Unix(unix, int64(nsec)).UTC(), true
}

// decimal parses a short run of ASCII digits.
func decimal(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysInMonth(year, month int) int {
	if month == 2 {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	if month == 4 || month == 6 || month == 9 || month == 11 {
		return 30
	}
	return 31
}

// daysSinceEpoch counts days from 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's days_from_civil).
func daysSinceEpoch(year, month, day int) int64 {
	y := int64(year)
	if month <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yearOfEra := y - era*400
	m := int64(month)
	if m > 2 {
		m -= 3
	} else {
		m += 9
	}
	dayOfYear := (153*m+2)/5 + int64(day) - 1
	dayOfEra := yearOfEra*365 + yearOfEra/4 - yearOfEra/100 + dayOfYear
	return era*146097 + dayOfEra - 719468
}
