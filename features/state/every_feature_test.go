package state

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// TestEveryFeatureIsFilled runs a small scenario and checks that every
// field of schemas.Features takes a non-zero value at least once: a
// feature the contract lists but nothing computes fails here.
func TestEveryFeatureIsFilled(t *testing.T) {
	sc := newScorer(t)
	var events []*schemas.LoginEvent
	add := func(user, ip string, ok bool, at time.Duration, mutate func(*schemas.LoginEvent)) {
		ev := testEvent(t, user, ip, ok, t0.Add(at))
		if mutate != nil {
			mutate(ev)
		}
		events = append(events, ev)
	}
	add("u1", londonV4, true, 0, func(ev *schemas.LoginEvent) { ev.TenantID = "acme"; ev.DeviceID = "d1" })
	add("u1", "2a0b:f4c0:1c0::4", false, time.Minute, func(ev *schemas.LoginEvent) { ev.UserAgent = "curl/8.0" })
	add("u1", sfV4, true, 2*time.Minute, nil)
	add("u2", sfV4, true, 3*time.Minute, nil)
	add("u1", "67.80.241.9", false, 4*time.Minute, nil)
	add("u1", "89.187.170.5", false, 5*time.Minute, nil)
	add("u1", "91.219.237.77", true, 6*time.Minute, func(ev *schemas.LoginEvent) { ev.DeviceID = "d1" })
	add("u3", "91.219.237.77", true, 7*time.Minute, func(ev *schemas.LoginEvent) { ev.DeviceID = "d1" })
	add("ghost", "67.80.241.9", false, 8*time.Minute, func(ev *schemas.LoginEvent) { ev.FailureReason = "unknown_user" })
	// The same wrong password twice from one network: a retried typo.
	for range 2 {
		add("u1", "67.80.241.9", false, 8*time.Minute, func(ev *schemas.LoginEvent) { ev.PasswordFP = "q3Zt0b9-x_2LmN4k" })
	}
	for i := range 10 { // ten users succeed from one address: it is shared
		add(fmt.Sprintf("crowd%d", i), sfV4, true, 9*time.Minute+time.Duration(i)*time.Second, nil)
	}
	add("u1", londonV4, false, 8*time.Minute, func(ev *schemas.LoginEvent) { ev.AuthMethod = "mfa"; ev.FailureReason = "mfa_failed" })
	add("u1", londonV4, true, 9*time.Minute, func(ev *schemas.LoginEvent) { ev.TenantID = "acme"; ev.DeviceID = "d1" })
	// An analyst confirmed an attack from the /24 of the last attempts.
	sc.s.MarkHostile(netip.MustParseAddr("91.219.237.1"), t0)
	filled := map[string]bool{}
	typ := reflect.TypeFor[schemas.Features]()
	for _, ev := range events {
		f := sc.observe(ev)
		v := reflect.ValueOf(f)
		for i := range typ.NumField() {
			if !v.Field(i).IsZero() {
				filled[typ.Field(i).Name] = true
			}
		}
	}
	for i := range typ.NumField() {
		if expr := typ.Field(i).Tag.Get("expr"); expr == "attack_mode" || strings.HasPrefix(expr, "platform_") {
			continue // set by the engine's attack-mode detector: engine's TestAttackModeFeaturesAreFilled
		}
		if name := typ.Field(i).Name; !filled[name] {
			t.Errorf("%s is never set", name)
		}
	}
}
