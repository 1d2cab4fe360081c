package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/loginrisk/loginrisk/features"
	"github.com/loginrisk/loginrisk/schemas"
)

// FeedbackRule is the reason rule of the record that announces an
// analyst's label on the decisions topic (Decision.Feedback).
const FeedbackRule = "analyst_feedback"

// Errors of Feedback.
var (
	// ErrNoSuchDecision: the event_id is not among the decisions the
	// engine remembers (recent_decisions, reloaded from history at
	// start-up).
	ErrNoSuchDecision = errors.New("no remembered decision for that event_id")
	// ErrBadFeedback: the label is not one of schemas.FeedbackLabels, or
	// the note is too long.
	ErrBadFeedback = errors.New("invalid feedback")
	// ErrNoFeedbackStore: the engine has no FeedbackWriter (no
	// ClickHouse history), so a label could not be kept.
	ErrNoFeedbackStore = errors.New("no feedback store configured (feedback is kept in the ClickHouse history)")
)

// FeedbackOutcome is what a label did.
type FeedbackOutcome struct {
	// Decision is the labelled decision.
	Decision *schemas.Decision
	// Lifted is the admin_lift record of the lock the labelled decision
	// set, when a false_positive lifted it (nil otherwise).
	Lifted *schemas.Decision
	// Record is the feedback record published on the decisions topic for
	// a false_positive on a challenge or lockout (trusting its context)
	// or a confirmed_attack (marking its network hostile); nil otherwise.
	Record *schemas.Decision
}

// Feedback takes an analyst's label of a remembered decision (fb.EventID):
// it is stored (Config.Feedback) first, so that a label that cannot be
// kept changes nothing. Then:
//
//   - false_positive on a challenge or a lockout lifts the lock that
//     decision set (a signed admin_lift through the decisions topic, as
//     Lift) and trusts the attempt's context for its user on every
//     instance: a record with Decision.Feedback set is recorded like a
//     decision (history, decisions topic), and ApplyDecision of every
//     instance makes the attempt's network and device_id familiar to the
//     user;
//   - confirmed_attack keeps any lock and marks the attempt's network
//     (/24 or /64) hostile on every instance, the same way (the
//     network_hostile feature);
//   - expected is only stored.
func (e *Engine) Feedback(ctx context.Context, fb schemas.Feedback) (FeedbackOutcome, error) {
	var out FeedbackOutcome
	if !fb.Label.Valid() {
		return out, fmt.Errorf("%w: label %q is not one of %s", ErrBadFeedback, fb.Label, strings.Join(schemas.FeedbackLabels(), ", "))
	}
	if len(fb.Note) > schemas.MaxFeedbackNoteLen {
		return out, fmt.Errorf("%w: note is %d bytes, more than the %d allowed", ErrBadFeedback, len(fb.Note), schemas.MaxFeedbackNoteLen)
	}
	if e.cfg.Feedback == nil {
		return out, ErrNoFeedbackStore
	}
	at, se, ok := e.recent.lookup(fb.EventID)
	if !ok || se.Decision == nil {
		return out, ErrNoSuchDecision
	}
	d := se.Decision
	out.Decision = d
	if err := e.cfg.Feedback.RecordFeedback(ctx, fb); err != nil {
		return out, fmt.Errorf("recording the feedback: %w", err)
	}
	flagged := d.Decision != schemas.VerdictAllow
	switch {
	case fb.Label == schemas.LabelFalsePositive && flagged:
		if l := d.Lock; l != nil && !reportsActiveLock(d) && l.Rule != AdminLiftRule {
			lifted, err := e.Lift(ctx, l.Scope, l.TenantID, l.Key, fb.Actor, fb.At)
			switch {
			case errors.Is(err, ErrNoSuchLock): // ended or lifted already
			case err != nil:
				return out, err
			default:
				out.Lifted = lifted
			}
		}
	case fb.Label == schemas.LabelConfirmedAttack:
	default:
		return out, nil
	}
	rec, err := e.recordFeedback(ctx, fb, d, at)
	if err != nil {
		return out, err
	}
	out.Record = rec
	e.applyFeedback(rec)
	return out, nil
}

// recordFeedback records (history, decisions topic) the record that
// carries a label to every instance.
func (e *Engine) recordFeedback(ctx context.Context, fb schemas.Feedback, d *schemas.Decision, at attempt) (*schemas.Decision, error) {
	addr, err := schemas.ParseIP(d.IP)
	if err != nil {
		return nil, fmt.Errorf("the labelled decision's ip %q: %w", d.IP, err)
	}
	detail := string(fb.Label) + " by " + fb.Actor
	if fb.Note != "" {
		detail += ": " + fb.Note
	}
	rec := &schemas.Decision{
		EventID:    fmt.Sprintf("feedback-%s-%d", fb.EventID, fb.At.UnixNano()),
		UserID:     d.UserID,
		IP:         d.IP,
		OccurredAt: fb.At,
		DecidedAt:  fb.At,
		Decision:   schemas.VerdictAllow,
		Reasons:    []schemas.Reason{{Rule: FeedbackRule, Weight: 0, Detail: detail}},
		Feedback: &schemas.FeedbackContext{Label: fb.Label, EventID: fb.EventID, TenantID: at.tenant,
			Network: features.NetworkOf(addr).String(), DeviceID: at.device},
		RulesVersion: e.RulesVersion(),
	}
	// The history row of a false_positive is an allowed success from the
	// context, so that a restart trusts it again (history's trusted
	// contexts and profiles are read from allowed successes); that of a
	// confirmed_attack is a failure, so that no restart ever takes the
	// attacker's network for the user's.
	outcome, reason := schemas.OutcomeSuccess, ""
	if fb.Label != schemas.LabelFalsePositive {
		outcome, reason = schemas.OutcomeFailure, "other"
	}
	ev := &schemas.LoginEvent{EventID: rec.EventID, OccurredAt: fb.At, UserID: d.UserID, IP: d.IP, TenantID: at.tenant, DeviceID: at.device,
		Outcome: outcome, FailureReason: reason,
		Attributes: map[string]string{"admin_action": "feedback", "actor": fb.Actor, attrLabel: string(fb.Label), attrFeedbackOf: fb.EventID}}
	f := &schemas.Features{UserID: d.UserID, IP: d.IP, TenantID: at.tenant, Network: rec.Feedback.Network, DeviceKey: at.device, HasDeviceID: at.device != ""}
	if err := e.cfg.Recorder.Record(ctx, []schemas.ScoredEvent{{Event: ev, Features: f, Decision: rec}}); err != nil {
		return nil, fmt.Errorf("recording the feedback record: %w", err)
	}
	return rec, nil
}

// The attributes of a feedback record's history row that warm-up reads
// back (feedbackFromHistory).
const (
	attrLabel      = "label"
	attrFeedbackOf = "feedback_of"
)

// feedbackFromHistory rebuilds the feedback record of a history row (its
// first reason is FeedbackRule), so that warm-up applies it again instead
// of taking it for a login; ok is false for any other row.
func feedbackFromHistory(ev *schemas.LoginEvent, d *schemas.Decision) (*schemas.Decision, bool) {
	if len(d.Reasons) == 0 || d.Reasons[0].Rule != FeedbackRule {
		return nil, false
	}
	rec := *d
	rec.Feedback = &schemas.FeedbackContext{Label: schemas.FeedbackLabel(ev.Attributes[attrLabel]), EventID: ev.Attributes[attrFeedbackOf],
		TenantID: ev.TenantID, Network: features.NetworkOf(ev.Addr).String(), DeviceID: ev.DeviceID}
	return &rec, true
}

// ErrBadFeedbackRecord is wrapped by the error of a feedback record from
// another instance that cannot be applied.
var ErrBadFeedbackRecord = errors.New("invalid feedback record")

// applyFeedback applies a feedback record (Decision.Feedback): a
// false_positive trusts the attempt's network and device_id for its user,
// a confirmed_attack marks the network hostile. It is called for this
// instance's records and, through ApplyDecision, for every instance's.
func (e *Engine) applyFeedback(d *schemas.Decision) error {
	fb := d.Feedback
	addr, err := schemas.ParseIP(d.IP)
	if err != nil || !fb.Label.Valid() || d.UserID == "" || len(d.UserID) > schemas.MaxUserIDLen ||
		len(fb.TenantID) > schemas.MaxTenantIDLen || len(fb.DeviceID) > schemas.MaxDeviceIDLen || fb.Network != features.NetworkOf(addr).String() {
		return fmt.Errorf("%w: event_id %.64q", ErrBadFeedbackRecord, d.EventID)
	}
	switch fb.Label {
	case schemas.LabelFalsePositive:
		ev := &schemas.LoginEvent{EventID: d.EventID, OccurredAt: d.OccurredAt, UserID: d.UserID, TenantID: fb.TenantID,
			IP: d.IP, Addr: addr, DeviceID: fb.DeviceID, Outcome: schemas.OutcomeSuccess}
		e.trustContext(ev)
	case schemas.LabelConfirmedAttack:
		if e.cfg.Hostile != nil {
			e.cfg.Hostile.MarkHostile(addr, d.OccurredAt)
		}
	}
	return nil
}
