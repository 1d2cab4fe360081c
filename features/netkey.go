package features

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// NetworkOf is the network an address is grouped in for "network"
// features and profiles: the /24 of its IPv4 address (KeyAddr), else its
// /64.
func NetworkOf(addr netip.Addr) netip.Prefix {
	addr = KeyAddr(addr)
	bits := 24
	if addr.Is6() {
		bits = 64
	}
	p, _ := addr.Prefix(bits)
	return p
}

// ipKey is the key of the per-IP state: its IPv4 address (KeyAddr), else
// its /64 (an attacker rotating addresses inside one /64 is one source).
type ipKey [16]byte

func ipKeyOf(addr netip.Addr) ipKey {
	addr = KeyAddr(addr)
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

// hashString is the store's hash of one string: its words of eight
// bytes, little-endian, then the last one to seven bytes as a word padded
// with zeros. The last word is read with whole loads (overlapping bytes
// already hashed, then shifted out) rather than a byte at a time.
func hashString(s string) uint64 {
	const k = 0x9e3779b97f4a7c15
	n := len(s)
	h := uint64(n) * k
	for rest := s; len(rest) >= 8; rest = rest[8:] {
		h = bits.RotateLeft64((h^le64(rest))*k, 31)
	}
	r := n % 8
	if r == 0 {
		return mix64(h)
	}
	var w uint64
	switch {
	case n >= 8:
		w = le64(s[n-8:]) >> (8 * (8 - r))
	case n >= 4:
		w = le32(s) | le32(s[n-4:])>>(8*(8-n))<<32
	default: // 1 to 3 bytes: the first, the middle and the last
		w = uint64(s[0]) | uint64(s[n/2])<<(8*(n/2)) | uint64(s[n-1])<<(8*(n-1))
	}
	return mix64(bits.RotateLeft64((h^w)*k, 31))
}

// le64 is the first eight bytes of s, little-endian (one load).
func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// le32 is the first four bytes of s, little-endian (one load).
func le32(s string) uint64 {
	_ = s[3]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24
}

// hashWords is the store's hash of 16 bytes as two words.
func hashWords(b [16]byte) uint64 {
	return mix64(binary.LittleEndian.Uint64(b[:8]) ^ mix64(binary.LittleEndian.Uint64(b[8:])))
}

// hashIPKey is the store's hash of an IP key (also the shard choice).
func hashIPKey(k ipKey) uint64 { return hashWords(k) }

// hashNetwork is the store's hash of the network of addr (NetworkOf),
// computed without building the prefix.
func hashNetwork(addr netip.Addr) uint64 {
	addr = KeyAddr(addr)
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
