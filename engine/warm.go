package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// ProfileLoader seeds a user's profile (known places, devices, last
// success); features.Store implements it.
type ProfileLoader interface {
	LoadProfile(p *schemas.UserProfile)
}

// WarmStats reports what a warm-up restored.
type WarmStats struct {
	Profiles int
	Events   int
	Locks    int
}

// WarmUp rebuilds the state from history so that a restart does not hand an
// attacker a fresh window: user profiles first, then the windows by
// replaying the events of the last window (24 h before now) through the
// state — not through the rules, so no lock is set twice — and remembering
// their decisions for dedupe, then the locks still active. Call it before
// consuming.
func (e *Engine) WarmUp(ctx context.Context, src WarmSource, now time.Time) (WarmStats, error) {
	var st WarmStats
	if loader, ok := e.cfg.State.(ProfileLoader); ok {
		err := src.Profiles(ctx, func(p *schemas.UserProfile) error {
			loader.LoadProfile(p)
			st.Profiles++
			return nil
		})
		if err != nil {
			return st, fmt.Errorf("warm-up profiles: %w", err)
		}
	}
	var f schemas.Features
	err := src.Recent(ctx, now.Add(-24*time.Hour), func(se schemas.ScoredEvent) error {
		ev := se.Event
		if ev == nil || se.Decision == nil {
			return nil
		}
		if !ev.Addr.IsValid() {
			addr, err := schemas.ParseIP(ev.IP)
			if err != nil {
				return nil // history holds only validated events; skip the odd row
			}
			ev.Addr = addr
		}
		f = schemas.Features{}
		if e.cfg.Enricher != nil {
			e.cfg.Enricher.Enrich(ev, &f)
		} else {
			fillEventFeatures(ev, &f)
		}
		e.cfg.State.Observe(ev, &f)
		if !e.keepOutcomes {
			se.Event, se.Features = nil, nil
		} else if se.Features == nil {
			se.Features = new(schemas.Features)
			*se.Features = f
		}
		e.recent.put(ev.EventID, se)
		st.Events++
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("warm-up windows: %w", err)
	}
	locks, err := src.ActiveLocks(ctx, now)
	if err != nil {
		return st, fmt.Errorf("warm-up locks: %w", err)
	}
	for _, l := range locks {
		if k, ok := ParseLockKey(l.Scope, l.Key); ok {
			e.locks.restore(k, now, l.Until, l.Rule)
			st.Locks++
		}
	}
	return st, nil
}
