package engine

import (
	"github.com/loginrisk/loginrisk/schemas"
)

// trustContext makes the context of ev — its network (/24 or /64), its
// device_id and the places its address is in — trusted and familiar for
// ev's user, as an allowed success from it does: a passed challenge
// (passedChallenge) and an analyst's false_positive (applyFeedback) call
// it. ev is a success built from the context; the state learns it
// through State.Learn, the one function that says what teaching a
// context means.
func (e *Engine) trustContext(ev *schemas.LoginEvent) {
	var f schemas.Features
	if e.cfg.Enricher != nil {
		e.cfg.Enricher.Enrich(ev, &f)
	} else {
		fillEventFeatures(ev, &f)
	}
	e.cfg.State.Learn(ev, &f)
}
