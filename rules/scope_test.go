package rules

import (
	"testing"

	"github.com/loginrisk/loginrisk/schemas"
)

func TestDeviceScopeRequiresDeviceID(t *testing.T) {
	tests := []struct {
		when string
		ok   bool
	}{
		{"has_device_id", true},
		{"failure && has_device_id", true},
		{"(has_device_id and success) && new_device", true},
		{"failure and (automation && has_device_id)", true},
		{"failure", false},
		{"has_device_id || automation", false},
		{"!has_device_id && failure", false},
		{"has_device_id == true && failure", false}, // not recognised: write has_device_id
		{"(has_device_id || automation) && failure", false},
	}
	for _, tt := range tests {
		t.Run(tt.when, func(t *testing.T) {
			c, err := compileWhen(tt.when)
			if err != nil {
				t.Fatal(err)
			}
			msg := checkDeviceScope(schemas.ScopeDevice, c)
			if (msg == "") != tt.ok {
				t.Errorf("device scope with when %q: problem %q, want accepted=%v", tt.when, msg, tt.ok)
			}
			if other := checkDeviceScope(schemas.ScopeUserIP, c); other != "" {
				t.Errorf("user_ip scope: %q, want no problem", other)
			}
		})
	}
}
