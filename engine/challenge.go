package engine

import (
	"github.com/loginrisk/loginrisk/features"
	"github.com/loginrisk/loginrisk/schemas"
)

// passedChallenge returns the context a passed challenge trusts, or nil.
// A passed challenge is an mfa success (auth_method mfa, outcome
// success) whose challenge_of names an attempt the engine remembers
// deciding challenge, of the same tenant and user, from the same network
// (/24 or /64) and, when both sent one, the same device_id. The context
// is the challenged attempt's: its user, address and device_id (the mfa
// event's device_id when the attempt had none). A challenge_of that
// names anything else trusts nothing: the event is scored like any other
// mfa success, so a gateway's or an attacker's wrong id cannot make a
// context familiar.
func (e *Engine) passedChallenge(ev *schemas.LoginEvent) *schemas.LoginEvent {
	if ev.ChallengeOf == "" || ev.AuthMethod != schemas.AuthMethodMFA || !ev.Success() {
		return nil
	}
	at, se, ok := e.recent.lookup(ev.ChallengeOf)
	d := se.Decision
	if !ok || d == nil || d.Decision != schemas.VerdictChallenge || at.tenant != ev.TenantID || d.UserID != ev.UserID {
		return nil
	}
	addr, err := schemas.ParseIP(d.IP)
	if err != nil || features.NetworkOf(addr) != features.NetworkOf(ev.Addr) {
		return nil
	}
	device := at.device
	switch {
	case device == "":
		device = ev.DeviceID
	case ev.DeviceID != "" && ev.DeviceID != device:
		return nil
	}
	return &schemas.LoginEvent{EventID: ev.EventID, OccurredAt: ev.OccurredAt, UserID: ev.UserID, TenantID: ev.TenantID,
		IP: d.IP, Addr: addr, DeviceID: device, UserAgent: ev.UserAgent, Outcome: schemas.OutcomeSuccess, AuthMethod: schemas.AuthMethodMFA}
}
