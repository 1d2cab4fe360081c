package testkit

import "github.com/loginrisk/loginrisk/internal/yamltest"

// DecodeYAML decodes doc over a copy of v as the command reads its
// configuration file: an unknown key is an error, and a key not given
// keeps the value it had in v (its default). For the adapters' tests of
// their Config's keys; it is internal/yamltest.Decode, which the features
// tests share.
func DecodeYAML[T any](v T, doc string) (T, error) { return yamltest.Decode(v, doc) }
