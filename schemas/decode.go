package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ErrInvalidEvent is wrapped by every error Decode and Validate return, so
// callers can tell bad input (dead-letter it, answer 400) from their own
// failures.
var ErrInvalidEvent = errors.New("invalid login event")

// FieldError says which field of an event is wrong and why. Field is the
// JSON name ("ip", "attributes.team"); it is empty when the message as a
// whole is unreadable.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// Unwrap makes errors.Is(err, ErrInvalidEvent) true for every FieldError.
func (e *FieldError) Unwrap() error { return ErrInvalidEvent }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// wireEvent is the JSON shape of a LoginEvent with every scalar as a string,
// so that a wrong type or a bad timestamp becomes a FieldError naming the
// field rather than a generic decoding error.
type wireEvent struct {
	EventID       string            `json:"event_id"`
	OccurredAt    string            `json:"occurred_at"`
	UserID        string            `json:"user_id"`
	Outcome       string            `json:"outcome"`
	IP            string            `json:"ip"`
	UserAgent     string            `json:"user_agent"`
	DeviceID      string            `json:"device_id"`
	FailureReason string            `json:"failure_reason"`
	AuthMethod    string            `json:"auth_method"`
	TenantID      string            `json:"tenant_id"`
	ChallengeOf   string            `json:"challenge_of"`
	PasswordFP    string            `json:"password_fp"`
	Attributes    map[string]string `json:"attributes"`
}

// Decode parses one JSON LoginEvent and validates it. On error the event is
// left partially filled and the error is a *FieldError wrapping
// ErrInvalidEvent. Unknown fields are ignored. Decoder.Decode is the
// same with the user agent interned.
func Decode(data []byte, ev *LoginEvent) error {
	return (*Decoder)(nil).Decode(data, ev)
}

// decodeSlow is Decode on encoding/json. It defines Decode's behaviour
// (decodeFast must match it) and words every error.
func decodeSlow(data []byte, ev *LoginEvent) error {
	if len(data) > MaxEventBytes {
		return fieldErr("", "message is %d bytes, more than the %d allowed", len(data), MaxEventBytes)
	}
	if !utf8.Valid(data) {
		return fieldErr(invalidUTF8Field(data), "is not valid UTF-8")
	}
	var w wireEvent
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&w); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return fieldErr("", "trailing data after the JSON object")
	}
	*ev = LoginEvent{
		EventID:       w.EventID,
		UserID:        w.UserID,
		Outcome:       Outcome(w.Outcome),
		IP:            w.IP,
		UserAgent:     w.UserAgent,
		DeviceID:      w.DeviceID,
		FailureReason: w.FailureReason,
		AuthMethod:    w.AuthMethod,
		TenantID:      w.TenantID,
		ChallengeOf:   w.ChallengeOf,
		PasswordFP:    w.PasswordFP,
		Attributes:    w.Attributes,
	}
	if w.OccurredAt == "" {
		return fieldErr("occurred_at", "is required")
	}
	t, err := time.Parse(time.RFC3339Nano, w.OccurredAt)
	if err != nil {
		return fieldErr("occurred_at", "%q is not an RFC 3339 time with a zone (e.g. 2026-01-02T15:04:05Z)", Clip(w.OccurredAt))
	}
	ev.OccurredAt = t.UTC()
	return Validate(ev)
}

// jsonError turns an encoding/json error into a FieldError.
func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		field := typeErr.Field
		if field == "" {
			return fieldErr("", "message must be a JSON object, not %s", typeErr.Value)
		}
		want := "a string"
		if field == "attributes" || strings.HasPrefix(field, "attributes.") {
			field, want = "attributes", "an object of strings"
		}
		return fieldErr(field, "must be %s, not %s", want, typeErr.Value)
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return fieldErr("", "malformed JSON at byte %d: %v", syntaxErr.Offset, syntaxErr)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fieldErr("", "malformed JSON: unexpected end of input")
	}
	return fieldErr("", "malformed JSON: %v", err)
}

// invalidUTF8Field finds the top-level field whose value holds invalid UTF-8;
// of several, the first in key order, so that one message always gets the
// same error. It runs only on bad input.
func invalidUTF8Field(data []byte) string {
	var raw map[string]json.RawMessage
	if json.Unmarshal(data, &raw) != nil {
		return ""
	}
	bad, found := "", false
	for k, v := range raw {
		if !utf8.Valid(v) && (!found || k < bad) {
			bad, found = k, true
		}
	}
	return bad
}

// Validate checks an event's fields and sets Addr. Decode calls it; callers
// building events in code should call it too.
func Validate(ev *LoginEvent) error {
	if err := checkString("event_id", ev.EventID, MaxEventIDLen, true); err != nil {
		return err
	}
	if ev.OccurredAt.IsZero() {
		return fieldErr("occurred_at", "is required")
	}
	if y := ev.OccurredAt.Year(); y < 2000 || y > 9999 {
		return fieldErr("occurred_at", "year %d is out of range (2000-9999)", y)
	}
	if err := checkString("user_id", ev.UserID, MaxUserIDLen, true); err != nil {
		return err
	}
	switch ev.Outcome {
	case OutcomeSuccess, OutcomeFailure:
	case "":
		return fieldErr("outcome", "is required")
	default:
		return fieldErr("outcome", "%q is not one of success, failure", Clip(string(ev.Outcome)))
	}
	if ev.IP == "" {
		return fieldErr("ip", "is required")
	}
	addr, err := ParseIP(ev.IP)
	if err != nil {
		return fieldErr("ip", "%q is not an IP address", Clip(ev.IP))
	}
	ev.Addr = addr
	if err := checkString("user_agent", ev.UserAgent, MaxUserAgentLen, false); err != nil {
		return err
	}
	if err := checkString("device_id", ev.DeviceID, MaxDeviceIDLen, false); err != nil {
		return err
	}
	if err := checkString("tenant_id", ev.TenantID, MaxTenantIDLen, false); err != nil {
		return err
	}
	if err := checkChallengeOf(ev); err != nil {
		return err
	}
	if err := checkPasswordFP(ev.PasswordFP); err != nil {
		return err
	}
	if ev.FailureReason != "" && !slices.Contains(failureReasons, ev.FailureReason) {
		return fieldErr("failure_reason", "%q is not one of %s", Clip(ev.FailureReason), strings.Join(failureReasons, ", "))
	}
	if ev.AuthMethod != "" && !slices.Contains(authMethods, ev.AuthMethod) {
		return fieldErr("auth_method", "%q is not one of %s", Clip(ev.AuthMethod), strings.Join(authMethods, ", "))
	}
	if len(ev.Attributes) > MaxAttributes {
		return fieldErr("attributes", "has %d entries, more than the %d allowed", len(ev.Attributes), MaxAttributes)
	}
	// Every attribute is checked and the bad one with the smallest key is
	// reported: map order is random, and one message must always get the
	// same error. Sorting the keys instead would cost every valid event.
	var badKey string
	var badErr error
	for k, v := range ev.Attributes {
		if badErr != nil && k > badKey {
			continue
		}
		if err := checkAttribute(k, v); err != nil {
			badKey, badErr = k, err
		}
	}
	return badErr
}

// checkChallengeOf checks challenge_of: an event_id (same limits), only on
// the end of a challenge (auth_method mfa), and never the event's own id.
func checkChallengeOf(ev *LoginEvent) error {
	if ev.ChallengeOf == "" {
		return nil
	}
	if err := checkString("challenge_of", ev.ChallengeOf, MaxEventIDLen, false); err != nil {
		return err
	}
	if ev.AuthMethod != AuthMethodMFA {
		return fieldErr("challenge_of", "reports the end of a challenge, so it needs auth_method %s, not %q", AuthMethodMFA, Clip(ev.AuthMethod))
	}
	if ev.ChallengeOf == ev.EventID {
		return fieldErr("challenge_of", "names the event itself; it must name the challenged attempt's event_id")
	}
	return nil
}

// checkPasswordFP checks password_fp: empty, or exactly PasswordFPLen
// base64url characters. Its errors never quote the value, not even one
// character of it: the error goes to the dead-letter headers and to HTTP
// answers.
func checkPasswordFP(fp string) error {
	if fp == "" {
		return nil
	}
	const want = "it must be exactly 16 base64url characters (A-Z a-z 0-9 - _, no padding), the first 12 bytes of the gateway's keyed hash (docs/security.md)"
	if len(fp) != PasswordFPLen {
		return fieldErr("password_fp", "is %d bytes; %s", len(fp), want)
	}
	for i := range len(fp) {
		if _, ok := base64URLValue(fp[i]); !ok {
			return fieldErr("password_fp", "has a character outside base64url at byte %d; %s", i, want)
		}
	}
	return nil
}

// checkAttribute checks one attribute's key and value.
func checkAttribute(k, v string) error {
	if err := checkString("attributes", k, MaxAttributeLen, true); err != nil {
		return fieldErr("attributes", "key %q: %s", Clip(k), err.(*FieldError).Reason)
	}
	return checkString("attributes."+k, v, MaxAttributeLen, false)
}

// ParseIP parses an IPv4 or IPv6 address in its textual form. It rejects
// zones ("fe80::1%eth0") and IPv4 with leading zeros, and unmaps
// IPv4-mapped IPv6 addresses so one client has one address.
func ParseIP(s string) (netip.Addr, error) {
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, err
	}
	if addr.Zone() != "" {
		return netip.Addr{}, errors.New("zoned addresses are not client addresses")
	}
	return addr.Unmap(), nil
}

// checkString enforces presence, length, UTF-8 and the absence of control
// characters.
func checkString(field, s string, maxLen int, required bool) error {
	if s == "" {
		if required {
			return fieldErr(field, "is required")
		}
		return nil
	}
	if len(s) > maxLen {
		return fieldErr(field, "is %d bytes, more than the %d allowed", len(s), maxLen)
	}
	// Printable ASCII needs no decoding: skip it a byte at a time, and
	// check the rest (from the first other byte) as before, so the errors
	// are the same.
	start := 0
	for start < len(s) && s[start] >= 0x20 && s[start] < 0x7f {
		start++
	}
	if start == len(s) {
		return nil
	}
	if !utf8.ValidString(s[start:]) {
		return fieldErr(field, "is not valid UTF-8")
	}
	for i, r := range s[start:] {
		if unicode.IsControl(r) {
			return fieldErr(field, "has a control character %s at byte %d", strconv.QuoteRune(r), start+i)
		}
	}
	return nil
}

// Clip shortens a value quoted in an error message to 64 bytes, cut at
// a character boundary, with an ellipsis when it cut.
func Clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
