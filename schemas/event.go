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
	ChallengeOf string            `json:"challenge_of,omitempty"`
	Attributes  map[string]string `json:"attributes,omitempty"`

	// Addr is IP parsed and unmapped (an IPv4-mapped IPv6 address becomes
	// IPv4). Set by Decode / Validate, never encoded.
	Addr netip.Addr `json:"-"`
}

// Success reports whether the credential check succeeded.
func (e *LoginEvent) Success() bool { return e.Outcome == OutcomeSuccess }
