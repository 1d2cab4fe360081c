package features

import "net/netip"

// PrefixString is p.String() in one allocation (Prefix.String makes
// two), for the status lookups that name a network.
func PrefixString(p netip.Prefix) string {
	var buf [48]byte // the longest IPv6 prefix, "ffff:…:ffff/128", is 43 bytes
	return string(p.AppendTo(buf[:0]))
}

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
