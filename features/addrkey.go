package features

import "net/netip"

// The IPv6 transition prefixes whose addresses carry the client's IPv4
// address at a fixed place.
var (
	// nat64WellKnown is the NAT64 well-known prefix (RFC 6052): the IPv4
	// address is the last 32 bits.
	nat64WellKnown = netip.MustParsePrefix("64:ff9b::/96")
	// sixToFour is 6to4 (RFC 3056): 2002:AABB:CCDD::/48 is the site of
	// the IPv4 address AA.BB.CC.DD.
	sixToFour = netip.MustParsePrefix("2002::/16")
	// teredo is Teredo (RFC 4380): the client's public IPv4 address is the
	// last 32 bits, each inverted.
	teredo = netip.MustParsePrefix("2001::/32")
)

// KeyAddr is the address that addr's address- and network-scoped state
// (counters, profiles' networks, ip and user_ip locks, last decisions by
// address) is kept under: the IPv4 address that an IPv4-mapped, NAT64
// (64:ff9b::/96), 6to4 (2002::/16) or Teredo (2001::/32) address carries,
// otherwise addr itself. Clients of one NAT64 gateway, 6to4 relay or
// Teredo server are thus as many sources as they have IPv4 addresses,
// rather than one /64 where one client's lock would refuse the others.
//
// The local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215) is not mapped: the
// operator chooses the length of the prefix inside it (/48 to /96), and so
// where the IPv4 address sits, which the address alone does not tell.
func KeyAddr(addr netip.Addr) netip.Addr {
	if !addr.Is6() {
		return addr
	}
	if addr.Is4In6() {
		return addr.Unmap()
	}
	b := addr.As16()
	switch {
	case nat64WellKnown.Contains(addr):
		return netip.AddrFrom4([4]byte(b[12:16]))
	case sixToFour.Contains(addr):
		return netip.AddrFrom4([4]byte(b[2:6]))
	case teredo.Contains(addr):
		return netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]})
	}
	return addr
}
