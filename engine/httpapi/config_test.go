package httpapi

import (
	"reflect"
	"strings"
	"testing"

	"github.com/loginrisk/loginrisk/engine/internal/defaults"
	"github.com/loginrisk/loginrisk/schemas"
)

// TestDefaultConfig: the body bound and every timeout have their default
// in DefaultConfig (the body bound is one LoginEvent), and New fills a
// zero Config from it.
func TestDefaultConfig(t *testing.T) {
	d := DefaultConfig()
	if d.MaxBodyBytes != schemas.MaxEventBytes {
		t.Errorf("DefaultConfig().MaxBodyBytes = %d, want schemas.MaxEventBytes %d", d.MaxBodyBytes, schemas.MaxEventBytes)
	}
	for _, name := range defaults.Unset(d) {
		if strings.HasSuffix(name, "Timeout") {
			t.Errorf("DefaultConfig().%s has no default", name)
		}
	}
	var filled Config
	filled.setDefaults()
	if filled.Logger == nil || filled.Clock == nil {
		t.Error("setDefaults left the logger or the clock nil")
	}
	filled.Logger, filled.Clock = nil, nil
	if !reflect.DeepEqual(filled, d) {
		t.Errorf("a zero Config is filled as\n%+v, want DefaultConfig\n%+v", filled, d)
	}
}

// TestValidateSettings: the settings a configuration file gives (tokens,
// body bound) are checked without a server — no engine, no token is not
// their problem — with the same words as New.
func TestValidateSettings(t *testing.T) {
	empty := DefaultConfig()
	if err := empty.ValidateSettings(); err != nil {
		t.Errorf("ValidateSettings of the defaults, no engine and no token = %v", err)
	}
	if err := empty.Validate(); err == nil || !strings.Contains(err.Error(), "at least one token") || !strings.Contains(err.Error(), "an engine is required") {
		t.Errorf("Validate of the defaults = %v, want the engine and a token required", err)
	}
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"bad role", func(c *Config) { c.Tokens[0].Role = "root" }, `http.tokens[0].role: "root" is not one of score, read, analyst, admin`},
		{"short token", func(c *Config) { c.Tokens[0].Secret = "short" }, "http.tokens[0].token: must be at least 16 characters"},
		{"same name", func(c *Config) { c.Tokens[1].Name = "gw" }, `http.tokens[1].name: "gw" is also the name of http.tokens[0]`},
		{"body bound too large", func(c *Config) { c.MaxBodyBytes = schemas.MaxEventBytes + 1 }, "http.max_body_bytes:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.Tokens = []Token{{Name: "gw", Secret: scoreToken, Role: RoleScore}, {Name: "ops", Secret: readToken, Role: RoleRead}}
			if err := c.ValidateSettings(); err != nil {
				t.Fatalf("valid tokens: %v", err)
			}
			tc.edit(&c)
			if err := c.ValidateSettings(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ValidateSettings = %v, want %q", err, tc.want)
			}
		})
	}
}
