package features

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// networkOf is the network an address is grouped in for "network"
// features and profiles: its /24 for IPv4, its /64 for IPv6.
func networkOf(addr netip.Addr) netip.Prefix {
	bits := 24
	if addr.Is6() {
		bits = 64
	}
	p, _ := addr.Prefix(bits)
	return p
}

// ipKey is the key of the per-IP state: the address itself for IPv4, its
// /64 for IPv6 (an attacker rotating addresses inside one /64 is one
// source).
type ipKey [16]byte

func ipKeyOf(addr netip.Addr) ipKey {
	k := addr.As16()
	if addr.Is6() {
		clear(k[8:]) // the /64
	}
	return k
}

// addrHash is a well-mixed 64-bit hash of an address, the key of the
// enrichment cache (which keeps the address in the value and checks it, so
// a collision is a miss, never a wrong answer).
func addrHash(addr netip.Addr) uint64 {
	b := addr.As16()
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	return mix64(hi ^ mix64(lo))
}

// mix64 is the splitmix64 finaliser.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// FNV-1a, 64 bit: the hash behind device keys derived from the user
// agent, which are output and so must not change.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// The store's hashes (shards, 32-bit keys of sources, users and profile
// values, network tags) are fixed functions, so the same events give the
// same features in every process. They read eight bytes at a step and
// end with mix64.

// hashString is the store's hash of one string.
func hashString(s string) uint64 {
	const k = 0x9e3779b97f4a7c15
	h := uint64(len(s)) * k
	for len(s) >= 8 {
		w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		h = bits.RotateLeft64((h^w)*k, 31)
		s = s[8:]
	}
	if len(s) > 0 {
		w := uint64(0)
		for i := len(s) - 1; i >= 0; i-- {
			w = w<<8 | uint64(s[i])
		}
		h = bits.RotateLeft64((h^w)*k, 31)
	}
	return mix64(h)
}

// hashWords is the store's hash of 16 bytes as two words.
func hashWords(b [16]byte) uint64 {
	return mix64(binary.LittleEndian.Uint64(b[:8]) ^ mix64(binary.LittleEndian.Uint64(b[8:])))
}

// hashIPKey is the store's hash of an IP key (also the shard choice).
func hashIPKey(k ipKey) uint64 { return hashWords(k) }

// hashNetwork is the store's hash of the network of addr (networkOf),
// computed without building the prefix.
func hashNetwork(addr netip.Addr) uint64 {
	b := addr.As16()
	prefixLen := uint64(24)
	if addr.Is6() {
		clear(b[8:])
		prefixLen = 64
	} else {
		b[15] = 0
	}
	return hashWords(b) ^ prefixLen
}

// hashCity is the hash of the city key "country/city", from the hash of
// the country (hashString) and the city.
func hashCity(countryHash uint64, city string) uint64 {
	return mix64(countryHash ^ bits.RotateLeft64(hashString(city), 32))
}
