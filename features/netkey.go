package features

import (
	"encoding/binary"
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
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		addr = p.Addr()
	}
	return addr.As16()
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

// FNV-1a, 64 bit. The store keys its feature hashes with it because it is
// fixed (the same events give the same features in every process) and
// streams, so "country/city" hashes without building the string.
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

func fnvBytes(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

// hashString is the store's hash of one string.
func hashString(s string) uint64 { return mix64(fnvString(fnvOffset, s)) }

// hashIPKey is the store's hash of an IP key (also the shard choice).
func hashIPKey(k ipKey) uint64 { return mix64(fnvBytes(fnvOffset, k[:])) }

// hashNetwork is the store's hash of a network (networkOf).
func hashNetwork(p netip.Prefix) uint64 {
	b := p.Addr().As16()
	return mix64(fnvBytes(fnvOffset, b[:]) ^ uint64(p.Bits()))
}

// hashCity is the hash of the city key country+"/"+city, computed without
// building the string.
func hashCity(country, city string) uint64 {
	h := fnvString(fnvOffset, country)
	h = fnvString(h, "/")
	return mix64(fnvString(h, city))
}
