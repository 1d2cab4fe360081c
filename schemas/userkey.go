package schemas

import "strings"

// userKeySeparator joins a tenant and a user id in a user key. Validate
// forbids control characters in tenant_id and user_id, so it appears in
// neither and no two (tenant, user) pairs share a key.
const userKeySeparator = "\x00"

// UserKey returns the key of the user (tenantID, userID) in every
// per-user table of the engine (windows, profiles, locks, last
// decisions): a user is a tenant's user, and an empty tenant is the
// default tenant. The default tenant's key is the user id itself, so a
// single-tenant deployment keys and prints its users as before; another
// tenant's is tenant, a NUL byte, then the user id. SplitUserKey inverts
// it.
func UserKey(tenantID, userID string) string {
	if tenantID == "" {
		return userID
	}
	return tenantID + userKeySeparator + userID
}

// SplitUserKey returns the tenant and the user id of a key built by
// UserKey.
func SplitUserKey(key string) (tenantID, userID string) {
	if tenant, user, ok := strings.Cut(key, userKeySeparator); ok {
		return tenant, user
	}
	return "", key
}

// UserKeyPart reports whether s can be one part of a user key: it does
// not hold the separator. Every validated tenant_id and user_id can; a
// lock key read from outside (a decision, history) is checked with it, so
// that no text can name another tenant's user.
func UserKeyPart(s string) bool { return !strings.Contains(s, userKeySeparator) }
