package engine_test

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/features/state"
	"github.com/loginrisk/loginrisk/schemas"
)

// bugState is the real store with a bug injected: Observe panics for one
// user while armed.
type bugState struct {
	*state.Store
	user  string
	armed atomic.Bool
}

func (s *bugState) Observe(ev *schemas.LoginEvent, f *schemas.Features) {
	if s.armed.Load() && ev.UserID == s.user {
		panic("injected bug for " + ev.UserID)
	}
	s.Store.Observe(ev, f)
}

// TestPanicWhileScoringIsRefused: an event that hits a bug is refused with
// an InternalError (dead-lettered by the Kafka adapter) and counted, the
// events around it are scored, and no lock is left held: the same event
// is scored normally once the bug is gone.
func TestPanicWhileScoringIsRefused(t *testing.T) {
	var bug *bugState
	eng := newTestEngineState(t, 0, func(store *state.Store) engine.State {
		bug = &bugState{Store: store, user: "mallory"}
		bug.armed.Store(true)
		return bug
	})
	msg := func(id, user string) engine.Message {
		return engine.Message{Value: fmt.Appendf(nil,
			`{"event_id":%q,"occurred_at":%q,"user_id":%q,"ip":"198.51.100.7","outcome":"failure","failure_reason":"bad_password"}`,
			id, time.Now().UTC().Format(time.RFC3339Nano), user)}
	}
	b := eng.Prepare([]engine.Message{msg("e1", "alice"), msg("e2", "mallory"), msg("e3", "bob")})
	if len(b.Scored) != 2 || b.Scored[0].Event.EventID != "e1" || b.Scored[1].Event.EventID != "e3" {
		t.Fatalf("scored %d events, want e1 and e3", len(b.Scored))
	}
	if len(b.Rejected) != 1 {
		t.Fatalf("rejected %d events, want 1", len(b.Rejected))
	}
	var ie *engine.InternalError
	if !errors.As(b.Rejected[0].Err, &ie) || ie.Stage != "scoring" || !strings.Contains(ie.Error(), "injected bug for mallory") {
		t.Fatalf("rejection %v, want an InternalError naming the panic", b.Rejected[0].Err)
	}
	if n := eng.Metrics().InternalErrors.Load(); n != 1 {
		t.Errorf("InternalErrors = %d, want 1", n)
	}

	// The bug fixed, the same event again: scored, not a duplicate of a
	// half-scored attempt, and not stuck behind a lock the panic held.
	bug.armed.Store(false)
	done := make(chan engine.Scored, 1)
	go func() {
		b := eng.Prepare([]engine.Message{msg("e2", "mallory")})
		if len(b.Scored) == 1 {
			done <- engine.Scored{ScoredEvent: b.Scored[0]}
		}
		close(done)
	}()
	select {
	case sc, ok := <-done:
		if !ok || sc.Decision == nil || sc.Decision.EventID != "e2" {
			t.Fatalf("e2 after the fix: %+v, %v", sc, ok)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("scoring after a panic hangs: a lock was left held")
	}
}
