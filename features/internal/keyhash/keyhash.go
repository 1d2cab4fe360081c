// Package keyhash holds the fixed hashes that enrichment and behavioural
// state key their tables by. They are fixed functions, not seeded, so the
// same events give the same features in every process (the tables that
// an attacker could flood place keys with a per-process seed on top; see
// features/state). Device keys derived from a user agent are output, so
// FNV must never change.
package keyhash

import (
	"encoding/binary"
	"math/bits"
	"net/netip"

	"github.com/loginrisk/loginrisk/features"
)

// Mix64 is the splitmix64 finaliser.
func Mix64(x uint64) uint64 {
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
	FNVOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// FNV adds the bytes of s to the FNV-1a hash h (start from FNVOffset).
func FNV(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// String is the store's hash of one string: its words of eight bytes,
// little-endian, then the last one to seven bytes as a word padded with
// zeros, ending with Mix64. The last word is read with whole loads
// (overlapping bytes already hashed, then shifted out) rather than a byte
// at a time.
func String(s string) uint64 {
	const k = 0x9e3779b97f4a7c15
	n := len(s)
	h := uint64(n) * k
	for rest := s; len(rest) >= 8; rest = rest[8:] {
		h = bits.RotateLeft64((h^le64(rest))*k, 31)
	}
	r := n % 8
	if r == 0 {
		return Mix64(h)
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
	return Mix64(bits.RotateLeft64((h^w)*k, 31))
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

// Words is the hash of 16 bytes as two words.
func Words(b [16]byte) uint64 {
	return Mix64(binary.LittleEndian.Uint64(b[:8]) ^ Mix64(binary.LittleEndian.Uint64(b[8:])))
}

// Addr is a well-mixed hash of the whole address, the key of the
// enrichment cache (which keeps the address in the value and checks it,
// so a collision is a miss, never a wrong answer).
func Addr(addr netip.Addr) uint64 {
	b := addr.As16()
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	return Mix64(hi ^ Mix64(lo))
}

// Network is the hash of the network of addr (features.NetworkOf),
// computed without building the prefix.
func Network(addr netip.Addr) uint64 {
	addr = features.KeyAddr(addr)
	b := addr.As16()
	prefixLen := uint64(24)
	if addr.Is6() {
		clear(b[8:])
		prefixLen = 64
	} else {
		b[15] = 0
	}
	return Words(b) ^ prefixLen
}
