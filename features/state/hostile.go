package state

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loginrisk/loginrisk/features"
)

// Hostile networks: the /24s and /64s where an analyst confirmed an attack
// (a confirmed_attack label, engine.Engine.Feedback), read by rules as
// network_hostile. The set is global, like every address signal, small
// (one entry per confirmed attack's network) and bounded.

// HostileFor is how long a network stays hostile after the last attack an
// analyst confirmed from it.
const HostileFor = 30 * 24 * time.Hour

// MaxHostileNetworks bounds the hostile set: at the bound, the network
// whose mark ends first makes room. About 80 bytes per network.
const MaxHostileNetworks = 100_000

// hostileSet is the hostile networks with the event time their mark ends.
// n mirrors len(until), so that an engine without any hostile network
// pays one atomic load per event.
type hostileSet struct {
	mu    sync.RWMutex
	until map[netip.Prefix]uint32
	n     atomic.Int64
}

// has reports whether network is hostile at event time at.
func (h *hostileSet) has(network netip.Prefix, at uint32) bool {
	if h.n.Load() == 0 {
		return false
	}
	h.mu.RLock()
	until, ok := h.until[network]
	h.mu.RUnlock()
	return ok && at < until
}

// mark makes network hostile from at for HostileFor.
func (h *hostileSet) mark(network netip.Prefix, at uint32) {
	until := at + uint32(HostileFor/time.Second)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.until == nil {
		h.until = make(map[netip.Prefix]uint32)
	}
	if prev, ok := h.until[network]; ok {
		h.until[network] = max(prev, until)
		return
	}
	if len(h.until) >= MaxHostileNetworks {
		var first netip.Prefix
		firstEnd := uint32(0)
		for k, v := range h.until {
			if firstEnd == 0 || v < firstEnd {
				first, firstEnd = k, v
			}
		}
		delete(h.until, first)
	}
	h.until[network] = until
	h.n.Store(int64(len(h.until)))
}

// sweep drops the marks that ended at now, and returns how many.
func (h *hostileSet) sweep(now uint32) (removed int) {
	if h.n.Load() == 0 {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, v := range h.until {
		if v <= now {
			delete(h.until, k)
			removed++
		}
	}
	h.n.Store(int64(len(h.until)))
	return removed
}

// MarkHostile makes the network of addr (its /24 or /64, as the network
// feature) hostile from at for HostileFor: every later attempt from it
// reads network_hostile true. It implements engine.HostileMarker.
func (s *Store) MarkHostile(addr netip.Addr, at time.Time) {
	if addr.IsValid() {
		s.hostile.mark(features.NetworkOf(addr), toEventTime(at))
	}
}
