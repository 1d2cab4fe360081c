package rules

import (
	"testing"

	"github.com/loginrisk/loginrisk/schemas"
)

// TestListsNameATenantsUser: a users entry names a user of the default
// tenant (a bare id) or of a tenant ({tenant, user}); the same id in
// another tenant is not listed.
func TestListsNameATenantsUser(t *testing.T) {
	set := mustLoadString(t, `
policy:
  allow: {users: [vip, {tenant: acme, user: boss}]}
  deny: {users: [{tenant: acme, user: mallory}]}
rules:
  - {id: any_failure, when: failure, weight: 10}
`)
	tests := []struct {
		tenant, user string
		by           DecidedBy
	}{
		{"", "vip", ByAllowlist},
		{"acme", "vip", ByScore},
		{"acme", "boss", ByAllowlist},
		{"", "boss", ByScore},
		{"globex", "boss", ByScore},
		{"acme", "mallory", ByDenylist},
		{"globex", "mallory", ByScore},
		{"", "mallory", ByScore},
	}
	var res Result
	for _, tt := range tests {
		f := schemas.Features{TenantID: tt.tenant, UserID: tt.user}
		set.Evaluate(&f, invalidAddr, &res)
		if res.DecidedBy != tt.by {
			t.Errorf("tenant %q user %q: decided by %s, want %s", tt.tenant, tt.user, res.DecidedBy, tt.by)
		}
	}
}
