package state

import (
	"github.com/loginrisk/loginrisk/features/internal/keyhash"
	"github.com/loginrisk/loginrisk/schemas"
)

// Instances share the address side of the attempts they score
// (docs/scaling.md, "Address signals across instances"): AddressAttempt
// gives it for an attempt observed here, ObserveAddress counts one that
// another instance observed, through the same per-address, per-network
// and per-ASN updates as Observe, and nothing else.

// AddressAttempt fills a with the address side of the attempt ev, whose
// features f are read (Observe), and reports whether it has one (an
// attempt without a valid address has none).
func (s *Store) AddressAttempt(ev *schemas.LoginEvent, f *schemas.Features, a *schemas.AddressAttempt) bool {
	addr := ev.Addr
	if !addr.IsValid() {
		addr, _ = schemas.ParseIP(ev.IP)
	}
	if !addr.IsValid() {
		return false
	}
	failure := !ev.Success()
	*a = schemas.AddressAttempt{
		At:          ev.OccurredAt,
		Failure:     failure,
		UnknownUser: failure && ev.FailureReason == unknownUserReason,
		KnownDevice: !failure && f.UserKnown && !f.NewDevice && f.DeviceKey != "",
		UserHash:    keyhash.String(schemas.UserKey(ev.TenantID, ev.UserID)),
		Addr:        addr,
	}
	if crowdedASN(f) {
		a.ASN = uint32(f.ASN)
	}
	return true
}

// ObserveAddress records an attempt another instance observed in the
// windows and crowds of its address, network and ASN, as Observe does
// for an attempt observed here; it changes no user's or device's state,
// which the user's own instance keeps.
func (s *Store) ObserveAddress(a *schemas.AddressAttempt) {
	if !a.Addr.IsValid() {
		return
	}
	o := observation{
		at:          toEventTime(a.At),
		failure:     a.Failure,
		userKey:     uint32(a.UserHash >> 32),
		hasAddr:     true,
		ipKey:       ipKeyOf(a.Addr),
		addressOnly: true,
	}
	o.ipHash = hashIPKey(o.ipKey)
	ev := schemas.LoginEvent{Outcome: schemas.OutcomeSuccess}
	if a.Failure {
		ev.Outcome = schemas.OutcomeFailure
		if a.UnknownUser {
			ev.FailureReason = unknownUserReason
		}
	}
	// The features the address-side updates look at, as the attempt's
	// own instance read them; those read along the way are not used.
	var f schemas.Features
	if a.ASN != 0 {
		f.ASNKnown, f.ASN, f.Hosting = true, int(a.ASN), true
	}
	if a.KnownDevice {
		f.UserKnown, f.DeviceKey = true, "known" // a known user's known device
	}
	s.applyIP(&o, &f, true)
	s.applyCrowds(&ev, &o, &f, true)
}
