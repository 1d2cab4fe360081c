package schemas

import (
	"slices"
	"time"
)

// FeedbackLabel is an analyst's verdict on a decision.
type FeedbackLabel string

// The labels of POST /v1/decisions/{event_id}/feedback and the feedback
// table. FalsePositive: the decision refused or challenged the account's
// owner; ConfirmedAttack: the attempt was an attack; Expected: the
// decision was right and unremarkable.
const (
	LabelFalsePositive   FeedbackLabel = "false_positive"
	LabelConfirmedAttack FeedbackLabel = "confirmed_attack"
	LabelExpected        FeedbackLabel = "expected"
)

// feedbackLabels is the table of labels; FeedbackLabels gives a copy.
var feedbackLabels = []string{string(LabelFalsePositive), string(LabelConfirmedAttack), string(LabelExpected)}

// FeedbackLabels returns the accepted labels.
func FeedbackLabels() []string { return slices.Clone(feedbackLabels) }

// Valid reports whether l is one of the labels.
func (l FeedbackLabel) Valid() bool { return slices.Contains(feedbackLabels, string(l)) }

// MaxFeedbackNoteLen bounds a feedback's note, in bytes.
const MaxFeedbackNoteLen = 1024

// Feedback is one label an analyst gave a decision: a row of the
// feedback table.
type Feedback struct {
	EventID string // the labelled decision's event_id
	At      time.Time
	Label   FeedbackLabel
	Actor   string // who: the API token's name
	Note    string
}

// FeedbackContext is set on the record that announces an analyst's label
// on the decisions topic (Decision.Feedback), so that every instance
// applies it: a false_positive trusts the labelled attempt's context for
// its user, a confirmed_attack marks its network hostile.
type FeedbackContext struct {
	Label FeedbackLabel `json:"label"`
	// EventID is the labelled decision's event_id.
	EventID string `json:"event_id"`
	// TenantID is the labelled attempt's tenant ("" for the default one);
	// the record's user_id and ip are the attempt's.
	TenantID string `json:"tenant_id,omitempty"`
	// Network is the attempt's /24 or /64.
	Network string `json:"network"`
	// DeviceID is the attempt's client device_id, when it had one.
	DeviceID string `json:"device_id,omitempty"`
}
