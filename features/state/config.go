package state

import (
	"errors"
	"fmt"
	"time"
)

// DefaultProfileRetention is how long a user's profile (known countries,
// cities, networks, devices, last success) outlives the user's last
// event, by default.
const DefaultProfileRetention = 30 * 24 * time.Hour

// DefaultShards is the default number of lock shards per key kind.
const DefaultShards = 256

// Default caps on the keys held, sized for a million active users: each
// of the million may have its own address, /64 and device key.
// docs/features-performance.md gives the bytes a key takes.
const (
	DefaultMaxUsers     = 1_000_000
	DefaultMaxAddresses = 1_000_000
	DefaultMaxNetworks  = 1_000_000
	DefaultMaxDevices   = 1_000_000
)

// MaxCap bounds each cap on the keys held: a thousand times the default.
const MaxCap = 1_000_000_000

// StoreConfig configures a Store. Its caps are also the state section of
// the configuration file: the yaml tags are the keys, and the fields
// tagged "-" are the caller's. DefaultConfig holds the defaults, which
// NewStore fills into zero fields, and Validate every check, naming a
// cap by its key's full path (state.max_users, …).
type StoreConfig struct {
	// Shards is the number of lock shards for each key kind (users, IPs,
	// devices), a power of two. Zero means DefaultShards.
	Shards int `yaml:"-"`
	// ProfileRetention is how long a user's profile is kept after the
	// user's last event; at least Retention. Zero means
	// DefaultProfileRetention.
	ProfileRetention time.Duration `yaml:"-"`
	// SketchSeed seeds the familiarity population's count-min sketches,
	// which count a value high when it shares all its counters with
	// others (popcounts.go). Zero means a random seed per Store, so that
	// nobody can choose values that share counters; offline scoring
	// (replay, eval, backtest) fixes one, so that the same events give
	// the same features on every run.
	SketchSeed uint64 `yaml:"-"`
	// MaxUsers, MaxAddresses, MaxNetworks and MaxDevices cap the keys of
	// each kind held, each at least Shards and at most MaxCap. A new key
	// at a cap takes the place of the least recently seen of a sample of
	// its shard's keys (evictSample) that may go: any device, a user
	// without a failure in the last 24 h, an address or network without
	// one in the last hour (the longest windows rules can lock on). When
	// none may go, the new key is not tracked: its attempt is scored
	// against empty state, as a first attempt, and counted as refused.
	// Zero means the Default* cap.
	MaxUsers     int `yaml:"max_users"`
	MaxAddresses int `yaml:"max_addresses"` // IPv4 addresses
	MaxNetworks  int `yaml:"max_networks"`  // IPv6 /64 networks
	MaxDevices   int `yaml:"max_devices"`
}

// DefaultConfig is the one place the store's defaults are written.
func DefaultConfig() StoreConfig {
	return StoreConfig{
		Shards: DefaultShards, ProfileRetention: DefaultProfileRetention,
		MaxUsers: DefaultMaxUsers, MaxAddresses: DefaultMaxAddresses,
		MaxNetworks: DefaultMaxNetworks, MaxDevices: DefaultMaxDevices,
	}
}

// caps returns the caps by kind.
func (c StoreConfig) caps() [NumKeyKinds]int {
	return [NumKeyKinds]int{Users: c.MaxUsers, Addresses: c.MaxAddresses, Networks: c.MaxNetworks, Devices: c.MaxDevices}
}

// Bytes an ordinary key takes on the Go heap, its share of its table
// included (docs/features-performance.md, BenchmarkStoreMemory): a user
// with a profile and its familiarity counts (`users`: 820 B); an
// address's hour windows and its crowd counts (`ips` and
// `crowd-addresses`: about 340 + 410 B); an IPv6 /64 as an address; a
// device id (`devices`: 145 B). HeapBound adds them up.
const (
	userBytes    = 820
	addressBytes = 800
	networkBytes = addressBytes
	deviceBytes  = 160
)

// HeapBound is about what the state takes on the Go heap with every cap
// full of ordinary keys (userBytes, addressBytes, networkBytes,
// deviceBytes); users under attack take more (about
// 2.6 KiB each, docs/reliability.md). The command derives its default
// soft memory limit from it.
func (c StoreConfig) HeapBound() int64 {
	c = c.withDefaults()
	return int64(c.MaxUsers)*userBytes + int64(c.MaxAddresses)*addressBytes + int64(c.MaxNetworks)*networkBytes + int64(c.MaxDevices)*deviceBytes
}

// capKey is the key of the cap on kind k in the configuration file.
func (k KeyKind) capKey() string {
	switch k {
	case Users:
		return "state.max_users"
	case Addresses:
		return "state.max_addresses"
	case Networks:
		return "state.max_networks"
	case Devices:
		return "state.max_devices"
	}
	return "state.max_" + k.String()
}

// withDefaults returns c with zero fields set to DefaultConfig's.
func (c StoreConfig) withDefaults() StoreConfig {
	d := DefaultConfig()
	for _, f := range []struct{ v, def *int }{
		{&c.Shards, &d.Shards}, {&c.MaxUsers, &d.MaxUsers}, {&c.MaxAddresses, &d.MaxAddresses},
		{&c.MaxNetworks, &d.MaxNetworks}, {&c.MaxDevices, &d.MaxDevices},
	} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	if c.ProfileRetention == 0 {
		c.ProfileRetention = d.ProfileRetention
	}
	return c
}

// Validate checks the configuration after defaults are filled and
// returns every problem; a cap below the shard count wraps
// ErrCapTooSmall.
func (c StoreConfig) Validate() error {
	var errs []error
	if c.Shards < 1 || c.Shards&(c.Shards-1) != 0 {
		errs = append(errs, fmt.Errorf("state: shards %d must be a power of two", c.Shards))
	}
	if c.ProfileRetention < Retention {
		errs = append(errs, fmt.Errorf("state: profile retention %s must be at least the window retention %s", c.ProfileRetention, Retention))
	}
	for kind, n := range c.caps() {
		if n < c.Shards || n > MaxCap {
			err := fmt.Errorf("%s: %d must be between %d (the shard count) and %d", KeyKind(kind).capKey(), n, c.Shards, MaxCap)
			if n < c.Shards {
				err = fmt.Errorf("%w: %w", err, ErrCapTooSmall)
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ErrCapTooSmall is the error of a key cap below the shard count.
var ErrCapTooSmall = errors.New("cap below the shard count")
