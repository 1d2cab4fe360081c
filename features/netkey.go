package features

import "net/netip"

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
