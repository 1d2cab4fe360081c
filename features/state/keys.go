package state

import (
	"math/bits"
	"net/netip"

	"github.com/loginrisk/loginrisk/features"
	"github.com/loginrisk/loginrisk/features/internal/keyhash"
)

// ipKey is the key of the per-IP state: its IPv4 address
// (features.KeyAddr), else its /64 (an attacker rotating addresses inside
// one /64 is one source).
type ipKey [16]byte

func ipKeyOf(addr netip.Addr) ipKey {
	addr = features.KeyAddr(addr)
	k := addr.As16()
	if addr.Is6() {
		clear(k[8:]) // the /64
	}
	return k
}

// hashIPKey is the store's hash of an IP key (also the shard choice).
func hashIPKey(k ipKey) uint64 { return keyhash.Words(k) }

// hashCity is the hash of the city key "country/city", from the hash of
// the country (keyhash.String) and the city.
func hashCity(countryHash uint64, city string) uint64 {
	return keyhash.Mix64(countryHash ^ bits.RotateLeft64(keyhash.String(city), 32))
}
