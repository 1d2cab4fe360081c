// Package clickhouse holds loginrisk's ClickHouse schema as files: the
// numbered migrations that create the history tables and the named analyst
// queries, embedded so the binary carries them. It parses, renders and
// checks them; it does not talk to a server (engine/history does).
package clickhouse

import (
	"fmt"
	"strconv"
	"strings"
)

// ServerVersion is a ClickHouse release number, as SELECT version() prints
// it ("18.16.1", "24.3.2.23"); only the first three parts are kept.
type ServerVersion struct {
	Major, Minor, Patch int
}

// MinServerVersion returns the oldest release the schema is written for
// and tested on (Debian's clickhouse-server package).
func MinServerVersion() ServerVersion { return ServerVersion{Major: 18, Minor: 16} }

// ParseServerVersion parses "MAJOR.MINOR[.PATCH[.BUILD]]".
func ParseServerVersion(s string) (ServerVersion, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) < 2 {
		return ServerVersion{}, fmt.Errorf("server version %q: want MAJOR.MINOR[.PATCH]", s)
	}
	var nums [3]int
	for i := 0; i < len(parts) && i < 3; i++ {
		n, err := strconv.Atoi(parts[i])
		if err != nil || n < 0 {
			return ServerVersion{}, fmt.Errorf("server version %q: part %q is not a number", s, parts[i])
		}
		nums[i] = n
	}
	return ServerVersion{Major: nums[0], Minor: nums[1], Patch: nums[2]}, nil
}

// AtLeast reports whether v is the same release as o or a later one.
func (v ServerVersion) AtLeast(o ServerVersion) bool {
	if v.Major != o.Major {
		return v.Major > o.Major
	}
	if v.Minor != o.Minor {
		return v.Minor > o.Minor
	}
	return v.Patch >= o.Patch
}

// IsZero reports whether v is unset.
func (v ServerVersion) IsZero() bool { return v == ServerVersion{} }

func (v ServerVersion) String() string {
	if v.Patch == 0 {
		return fmt.Sprintf("%d.%d", v.Major, v.Minor)
	}
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// The releases from which optional features are used. The thresholds are
// deliberately conservative: a too-high gate only costs an optimisation, a
// too-low one breaks the migration on the releases in between.
var (
	// LowCardinality(T) was experimental (behind a setting) in 18.x and
	// production-ready from 19.3.
	lowCardinalitySince = ServerVersion{Major: 19, Minor: 3}
	// Column compression codecs (CODEC(...)) arrived during 19.x; 20.3
	// is the first long-term release where all the codecs used here are
	// settled.
	codecsSince = ServerVersion{Major: 20, Minor: 3}
)

// Capabilities says which optional features a server has. Migrations are
// text/template files rendered with it: {{lc "String"}} becomes
// LowCardinality(String) or String, {{codec "ZSTD(3)"}} becomes
// " CODEC(ZSTD(3))" or nothing, and {{if .LowCardinality}} works too.
type Capabilities struct {
	Version        ServerVersion
	LowCardinality bool
	Codecs         bool
}

// CapabilitiesOf returns what a server of version v supports.
func CapabilitiesOf(v ServerVersion) Capabilities {
	return Capabilities{
		Version:        v,
		LowCardinality: v.AtLeast(lowCardinalitySince),
		Codecs:         v.AtLeast(codecsSince),
	}
}
