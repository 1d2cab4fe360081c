package engine

import (
	"github.com/loginrisk/loginrisk/schemas"
)

// trustContext makes the context of ev — its network (/24 or /64), its
// device_id, and the places its address is in — trusted and familiar for
// ev's user, as an allowed success from it would: a passed challenge
// (passedChallenge) and an analyst's false_positive (applyFeedback) call
// it. It is the one place that says what trusting a context means; the
// state learns it through its ProfileLoader.
func (e *Engine) trustContext(ev *schemas.LoginEvent) {
	loader, ok := e.cfg.State.(ProfileLoader)
	if !ok {
		return
	}
	var f schemas.Features
	if e.cfg.Enricher != nil {
		e.cfg.Enricher.Enrich(ev, &f)
	} else {
		fillEventFeatures(ev, &f)
	}
	p := &schemas.UserProfile{TenantID: ev.TenantID, UserID: ev.UserID, Networks: []string{f.Network}, SuccessesTotal: 1}
	if f.HasDeviceID {
		p.Devices = []string{f.DeviceKey}
	}
	if f.GeoKnown && f.Country != "" {
		p.Countries = []string{f.Country}
		if f.City != "" {
			p.Cities = []string{f.Country + "/" + f.City}
		}
	}
	if f.ASNKnown && f.ASN != 0 {
		p.ASNs = []int{f.ASN}
	}
	loader.LoadProfile(p)
}
