package state

import (
	"net/netip"
	"testing"
	"time"
)

// TestHostileNetwork checks that a confirmed attack's network (its /24 or
// /64) reads network_hostile for HostileFor, for every address in it and
// no other, and that a sweep past the end forgets it.
func TestHostileNetwork(t *testing.T) {
	sc := newScorer(t)
	sc.s.MarkHostile(netip.MustParseAddr("91.219.237.77"), t0)
	sc.s.MarkHostile(netip.MustParseAddr("2a0b:f4c0:1c0::4"), t0)
	tests := []struct {
		name string
		ip   string
		at   time.Duration
		want bool
	}{
		{"same address", "91.219.237.77", time.Minute, true},
		{"same /24", "91.219.237.3", time.Hour, true},
		{"same /64", "2a0b:f4c0:1c0::99", time.Hour, true},
		{"another /24", "91.219.238.3", time.Minute, false},
		{"another /64", "2a0b:f4c0:1c1::4", time.Minute, false},
		{"after HostileFor", "91.219.237.3", HostileFor + time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := sc.peek(testEvent(t, "u1", tt.ip, false, t0.Add(tt.at)))
			if f.NetworkHostile != tt.want {
				t.Errorf("network_hostile = %v, want %v", f.NetworkHostile, tt.want)
			}
		})
	}
	if n := sc.s.Sweep(t0.Add(HostileFor + time.Hour)); n < 2 {
		t.Errorf("a sweep after HostileFor removed %d keys, want the 2 hostile networks at least", n)
	}
	if sc.s.hostile.n.Load() != 0 {
		t.Errorf("%d hostile networks left after the sweep", sc.s.hostile.n.Load())
	}
}
