package testkit

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/internal/geotest"
	"github.com/loginrisk/loginrisk/features/enrich"
	"github.com/loginrisk/loginrisk/features/state"
	"github.com/loginrisk/loginrisk/rules"
)

// Engine builds the engine a test scores with: cfg as given, plus the rules
// of rulesDir ("" for the shipped set) and a fresh feature store with the
// default configuration, unless cfg already names rules or state. It
// returns the engine and the store it made (nil when cfg named one).
func Engine(t testing.TB, rulesDir string, cfg engine.Config) (*engine.Engine, *state.Store) {
	t.Helper()
	if cfg.Rules == nil {
		rm, err := rules.NewManager(rules.ManagerConfig{Dir: rulesDir})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Rules = rm
	}
	var store *state.Store
	if cfg.State == nil {
		store = Store(t)
		cfg.State = store
	}
	eng, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return eng, store
}

// Store is a fresh feature store with the default configuration.
func Store(t testing.TB) *state.Store {
	t.Helper()
	store, err := state.NewStore(state.StoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return store
}

// RulesDir returns a folder, removed when the test ends, holding one
// rules file with doc (the YAML of a rule set), for Engine's rulesDir.
func RulesDir(t testing.TB, doc string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Enricher opens the repository's generated GeoIP test databases
// (testdata/geoip, found from the test's folder upwards), closed when the
// test ends.
func Enricher(t testing.TB) *enrich.Enricher {
	t.Helper()
	enr, err := enrich.NewEnricher(geotest.Config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { enr.Close() })
	return enr
}
