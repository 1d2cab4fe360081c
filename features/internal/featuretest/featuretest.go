// Package featuretest holds what the tests of features/enrich and
// features/state share: the paths of the generated test GeoIP databases,
// a valid login event and the check of a section's Validate.
package featuretest

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// T0 is the tests' first event time.
var T0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// GeoIP is the folder of the generated test databases
// (go generate ./features/enrich), from a package two levels below the
// module root.
var GeoIP = filepath.Join("..", "..", "testdata", "geoip")

// Event is a valid password attempt of user from ip (the address text) at
// at, successful when ok, else failed with a bad password.
func Event(t testing.TB, user, ip string, ok bool, at time.Time) *schemas.LoginEvent {
	t.Helper()
	ev := &schemas.LoginEvent{
		EventID:    "e-" + user + "-" + ip + "-" + at.Format(time.RFC3339Nano),
		OccurredAt: at,
		UserID:     user,
		Outcome:    schemas.OutcomeFailure,
		IP:         ip,
		UserAgent:  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		AuthMethod: "password",
	}
	if ok {
		ev.Outcome = schemas.OutcomeSuccess
	} else {
		ev.FailureReason = "bad_password"
	}
	if err := schemas.Validate(ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// WantErrors fails t unless err is nil when want is, and otherwise holds
// each of want: for the tests of a section's Validate, which names every
// problem by its key at once.
func WantErrors(t testing.TB, err error, want []string) {
	t.Helper()
	if want == nil && err != nil || want != nil && err == nil {
		t.Fatalf("Validate = %v, want %q", err, want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Validate = %v, lacks %q", err, w)
		}
	}
}
