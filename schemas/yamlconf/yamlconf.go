// Package yamlconf holds the decoding rule of loginrisk's YAML
// configuration: a document is decoded over a value holding the defaults,
// an unknown key is an error, and a key not given keeps its default. The
// command reads its configuration file with it, and the tests of every
// section (engine/testkit, features/enrich, features/state) decode their
// sections with it, so that a test reads a section as the command does.
package yamlconf

import (
	"errors"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Decode decodes the YAML document read from r over v (a pointer): an
// unknown key is an error, a key not given keeps the value it had, and an
// empty document changes nothing.
func Decode(r io.Reader, v any) error {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// DecodeString decodes doc over a copy of v, as Decode does, and returns
// the copy.
func DecodeString[T any](v T, doc string) (T, error) {
	err := Decode(strings.NewReader(doc), &v)
	return v, err
}
