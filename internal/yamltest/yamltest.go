// Package yamltest decodes a configuration section's YAML in tests as the
// command reads its configuration file. It is the one copy behind
// engine/testkit.DecodeYAML and the tests of features/enrich and
// features/state, kept at the module root because features may not import
// engine and engine may not import features/internal.
package yamltest

import (
	"errors"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Decode decodes doc over a copy of v as the command reads its
// configuration file: an unknown key is an error, and a key not given
// keeps the value it had in v (its default).
func Decode[T any](v T, doc string) (T, error) {
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&v); err != nil && !errors.Is(err, io.EOF) {
		return v, err
	}
	return v, nil
}
