package featuretest

import (
	"errors"
	"io"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// DecodeYAML decodes doc over a copy of v as the command reads its
// configuration file: an unknown key is an error, and a key not given
// keeps the value it had in v (its default). For the tests of the yaml
// keys of enrich.EnricherConfig (the geoip section) and
// state.StoreConfig (the state section); engine/testkit.DecodeYAML is
// the adapters' same helper, which features may not import.
func DecodeYAML[T any](v T, doc string) (T, error) {
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&v); err != nil && !errors.Is(err, io.EOF) {
		return v, err
	}
	return v, nil
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
