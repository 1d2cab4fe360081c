package features

import (
	"net/netip"
	"testing"
)

// TestKeyAddr: the transition addresses that carry an IPv4 address are
// keyed (and grouped in networks) by it; other IPv6 addresses, the
// local-use NAT64 prefix among them, are kept as they are.
func TestKeyAddr(t *testing.T) {
	cases := []struct {
		name, addr, key, network string
	}{
		{"ipv4", "192.0.2.1", "192.0.2.1", "192.0.2.0/24"},
		{"ipv4-mapped", "::ffff:192.0.2.1", "192.0.2.1", "192.0.2.0/24"},
		{"nat64", "64:ff9b::c000:201", "192.0.2.1", "192.0.2.0/24"},
		{"nat64 dotted", "64:ff9b::198.51.100.7", "198.51.100.7", "198.51.100.0/24"},
		{"6to4", "2002:c000:201:7::1", "192.0.2.1", "192.0.2.0/24"},
		{"teredo", "2001:0:4136:e378:8000:63bf:3fff:fdfe", "192.0.2.1", "192.0.2.0/24"},
		{"native ipv6", "2a02:1234:5678:9abc::1", "2a02:1234:5678:9abc::1", "2a02:1234:5678:9abc::/64"},
		{"documentation, next to teredo", "2001:db8::1", "2001:db8::1", "2001:db8::/64"},
		{"local-use nat64 is not mapped", "64:ff9b:1::c000:201", "64:ff9b:1::c000:201", "64:ff9b:1::/64"},
		{"nat64 beyond /96 is not mapped", "64:ff9b::1:c000:201", "64:ff9b::1:c000:201", "64:ff9b::/64"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := netip.MustParseAddr(tc.addr)
			if got := KeyAddr(addr).String(); got != tc.key {
				t.Errorf("KeyAddr(%s) = %s, want %s", tc.addr, got, tc.key)
			}
			if got := NetworkOf(addr).String(); got != tc.network {
				t.Errorf("NetworkOf(%s) = %s, want %s", tc.addr, got, tc.network)
			}
		})
	}
}
