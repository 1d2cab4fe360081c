package schemas

import "time"

// UserProfile is what the history knows of one user's successful logins:
// the places, networks and devices they came from. The engine loads it at
// start-up so "new city" and "new device" survive a restart.
type UserProfile struct {
	TenantID       string // "" for the default tenant
	UserID         string
	Countries      []string
	Cities         []string // "country/city", as features keep them
	ASNs           []int
	Devices        []string // device keys
	Networks       []string // "/24" or "/64" prefixes in CIDR text
	SuccessesTotal int
	// The last successful login, for travel speed.
	LastSuccessAt time.Time
	LastGeoKnown  bool
	LastLatitude  float64
	LastLongitude float64
}
