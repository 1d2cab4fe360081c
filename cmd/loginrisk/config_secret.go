package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// Secret is a credential: in YAML either the value, or "file:PATH" to read
// it from a file, or "env:NAME" to read an environment variable. It never
// prints its value.
type Secret string

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString hides the value from %#v.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// MarshalJSON hides the value from encoding/json (and slog's JSON
// handler).
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MarshalYAML hides the value from YAML; a file: or env: reference,
// which holds no secret, is kept.
func (s Secret) MarshalYAML() (any, error) {
	if s.reference() {
		return string(s), nil
	}
	return s.String(), nil
}

// reference reports whether s is a file: or env: reference rather than
// the value.
func (s Secret) reference() bool {
	return strings.HasPrefix(string(s), "file:") || strings.HasPrefix(string(s), "env:")
}

// LogValue hides the value from every slog handler.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Resolve reads a file: or env: reference.
func (s Secret) Resolve(field string) (Secret, error) {
	v := string(s)
	switch {
	case strings.HasPrefix(v, "file:"):
		b, err := os.ReadFile(strings.TrimPrefix(v, "file:"))
		if err != nil {
			return "", fmt.Errorf("%s: %w", field, err)
		}
		return Secret(strings.TrimSpace(string(b))), nil
	case strings.HasPrefix(v, "env:"):
		name := strings.TrimPrefix(v, "env:")
		val, ok := os.LookupEnv(name)
		if !ok {
			return "", fmt.Errorf("%s: environment variable %s is not set", field, name)
		}
		return Secret(val), nil
	}
	return s, nil
}
