package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loginrisk/loginrisk/engine/internal/geotest"
	"github.com/loginrisk/loginrisk/features/enrich"
	"github.com/loginrisk/loginrisk/features/state"
	"github.com/loginrisk/loginrisk/rules"
	"github.com/loginrisk/loginrisk/schemas"
)

// The set-ups the tests inside the package share. The tests of package
// engine_test use engine/testkit instead, which imports this package and
// so cannot serve the tests inside it.

// newTestEngine is an engine with the rules of doc (the YAML of one rules
// file; "" for the shipped set), a fresh store and cfg's other settings.
// It returns the engine and its store.
func newTestEngine(t *testing.T, doc string, cfg Config) (*Engine, *state.Store) {
	t.Helper()
	var mc rules.ManagerConfig
	if doc != "" {
		mc.Dir = t.TempDir()
		if err := os.WriteFile(filepath.Join(mc.Dir, "rules.yaml"), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rm, err := rules.NewManager(mc)
	if err != nil {
		t.Fatal(err)
	}
	store, err := state.NewStore(state.StoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Rules, cfg.State = rm, store
	eng, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return eng, store
}

// newGeoEngine is an engine with the shipped rules, the repository's test
// GeoIP databases and a fresh store, as `loginrisk replay` runs.
func newGeoEngine(t *testing.T) *Engine {
	t.Helper()
	enricher, err := enrich.NewEnricher(geotest.Config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enricher.Close() })
	eng, _ := newTestEngine(t, "", Config{Enricher: enricher})
	return eng
}

// mustScore validates ev and scores it on eng, failing the test on
// either's error.
func mustScore(t *testing.T, eng *Engine, ev *schemas.LoginEvent, dryRun bool) Scored {
	t.Helper()
	if err := schemas.Validate(ev); err != nil {
		t.Fatal(err)
	}
	out, err := eng.Score(ev, dryRun)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// badPassword is the failure reason of an attempt with outcome: a bad
// password for a failure, none for a success.
func badPassword(outcome schemas.Outcome) string {
	if outcome == schemas.OutcomeFailure {
		return "bad_password"
	}
	return ""
}

// hasReason reports whether d has a reason rule whose detail contains
// every part.
func hasReason(d *schemas.Decision, rule string, parts ...string) bool {
	for _, r := range d.Reasons {
		if r.Rule != rule {
			continue
		}
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(r.Detail, p)
		}
		if ok {
			return true
		}
	}
	return false
}

// HasReason is hasReason, for the tests of package engine_test.
var HasReason = hasReason
