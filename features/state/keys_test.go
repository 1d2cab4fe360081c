package state

import (
	"net/netip"
	"testing"

	"github.com/loginrisk/loginrisk/features/internal/keyhash"
)

// TestTransitionAddressesShareStateKeys: an address that carries an IPv4
// address (mapped, NAT64, 6to4, Teredo) is kept under the same source and
// network keys as that IPv4 address; other IPv6 addresses by their /64.
func TestTransitionAddressesShareStateKeys(t *testing.T) {
	cases := []struct{ addr, key string }{
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"64:ff9b::c000:201", "192.0.2.1"},
		{"2002:c000:201:7::1", "192.0.2.1"},
		{"2001:0:4136:e378:8000:63bf:3fff:fdfe", "192.0.2.1"},
		{"2a02:1234:5678:9abc::1", "2a02:1234:5678:9abc::ffff"},
	}
	for _, tc := range cases {
		addr, key := netip.MustParseAddr(tc.addr), netip.MustParseAddr(tc.key)
		if ipKeyOf(addr) != ipKeyOf(key) || keyhash.Network(addr) != keyhash.Network(key) {
			t.Errorf("%s and %s have different state keys", tc.addr, tc.key)
		}
	}
	if ipKeyOf(netip.MustParseAddr("64:ff9b:1::c000:201")) == ipKeyOf(netip.MustParseAddr("192.0.2.1")) {
		t.Error("the local-use NAT64 prefix is keyed by the IPv4 address it may carry")
	}
}
