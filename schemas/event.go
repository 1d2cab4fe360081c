// Package schemas holds loginrisk's stable contracts: the LoginEvent the
// gateway sends, the Decision the engine answers with, the feature vector the
// rules read, and the JSON Schema, ClickHouse DDL and OpenAPI files that
// describe them. It imports nothing of ours.
package schemas

import (
	"net/netip"
	"slices"
	"time"
)

// Outcome is the result of the gateway's credential check.
type Outcome string

// The outcomes a LoginEvent may carry.
const (
	OutcomeSuccess Outcome = "success"
	OutcomeFailure Outcome = "failure"
)

// Field limits of a LoginEvent, in bytes.
const (
	MaxEventIDLen   = 128
	MaxUserIDLen    = 256
	MaxUserAgentLen = 2048
	MaxDeviceIDLen  = 256
	MaxTenantIDLen  = 256
	MaxAttributes   = 32
	MaxAttributeLen = 1024
	// PasswordFPLen is the length of a password_fp: exactly 16
	// characters of base64url (RFC 4648 section 5, A-Z a-z 0-9 - _, no
	// padding), the first 12 bytes (96 bits) of a keyed hash of the
	// password that the gateway computes (docs/security.md).
	PasswordFPLen = 16
	// MaxEventBytes bounds one encoded LoginEvent (one Kafka message or
	// one NDJSON line).
	MaxEventBytes = 64 << 10
)

// The accepted values of LoginEvent.FailureReason and AuthMethod. The
// tables are never changed; FailureReasons and AuthMethods give copies.
var (
	failureReasons = []string{"bad_password", "unknown_user", "mfa_failed", "locked", "other"}
	authMethods    = []string{"password", "mfa", "sso", "passkey", "token"}
)

// AuthMethodMFA is the auth_method of a second factor: the event that
// reports how a challenge ended (see LoginEvent.ChallengeOf).
const AuthMethodMFA = "mfa"

// FailureReasons returns the accepted values of LoginEvent.FailureReason.
func FailureReasons() []string { return slices.Clone(failureReasons) }

// AuthMethods returns the accepted values of LoginEvent.AuthMethod.
func AuthMethods() []string { return slices.Clone(authMethods) }

// LoginEvent is one login attempt as published by the gateway to the
// login-events topic (keyed by user_id) or posted to POST /v1/score.
type LoginEvent struct {
	EventID       string    `json:"event_id"`
	OccurredAt    time.Time `json:"occurred_at"`
	UserID        string    `json:"user_id"`
	Outcome       Outcome   `json:"outcome"`
	IP            string    `json:"ip"`
	UserAgent     string    `json:"user_agent,omitempty"`
	DeviceID      string    `json:"device_id,omitempty"`
	FailureReason string    `json:"failure_reason,omitempty"`
	AuthMethod    string    `json:"auth_method,omitempty"`
	TenantID      string    `json:"tenant_id,omitempty"`
	// ChallengeOf names the event_id of the attempt whose challenge this
	// event reports the end of: only with auth_method mfa (the gateway's
	// second factor), outcome success (passed) or failure (failed).
	ChallengeOf string `json:"challenge_of,omitempty"`
	// PasswordFP is the fingerprint of the password tried: a short keyed
	// hash (PasswordFPLen base64url characters) the gateway computes
	// with a key the engine never sees. The engine reads it on failed
	// password checks only, keeps it in memory for the features that
	// need it, and never writes it anywhere: not to history, logs,
	// decisions or the dead-letter topic.
	PasswordFP string            `json:"password_fp,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`

	// Addr is IP parsed and unmapped (an IPv4-mapped IPv6 address becomes
	// IPv4). Set by Decode / Validate, never encoded.
	Addr netip.Addr `json:"-"`
}

// Success reports whether the credential check succeeded.
func (e *LoginEvent) Success() bool { return e.Outcome == OutcomeSuccess }

// PasswordFingerprint returns the first 8 bytes of the event's password_fp,
// decoded, as the number the state keys it by, and whether the event has
// one the features read: the check of a password, not of a second factor
// (auth_method mfa). A valid event's password_fp is PasswordFPLen
// base64url characters (Validate).
func (e *LoginEvent) PasswordFingerprint() (uint64, bool) {
	if e.PasswordFP == "" || e.AuthMethod == AuthMethodMFA || len(e.PasswordFP) != PasswordFPLen {
		return 0, false
	}
	// Ten characters of 6 bits and the top 4 bits of the eleventh are
	// the first 64 bits.
	var fp uint64
	for i := range 11 {
		v, ok := base64URLValue(e.PasswordFP[i])
		if !ok {
			return 0, false
		}
		if i == 10 {
			return fp<<4 | uint64(v>>2), true
		}
		fp = fp<<6 | uint64(v)
	}
	return fp, true
}

// base64URLValue returns the 6-bit value of a base64url character
// (RFC 4648 section 5).
func base64URLValue(c byte) (byte, bool) {
	switch {
	case 'A' <= c && c <= 'Z':
		return c - 'A', true
	case 'a' <= c && c <= 'z':
		return c - 'a' + 26, true
	case '0' <= c && c <= '9':
		return c - '0' + 52, true
	case c == '-':
		return 62, true
	case c == '_':
		return 63, true
	}
	return 0, false
}
