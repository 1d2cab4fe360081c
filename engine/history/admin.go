package history

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// ActionLiftLock is the action of an operator lifting a lock; ActiveLocks
// leaves out locks lifted after they were set.
const ActionLiftLock = "lift_lock"

// AdminAction is one thing an operator did through the admin API.
type AdminAction struct {
	At     time.Time // zero means now
	Actor  string    // who: the token name or user
	Action string    // what, e.g. ActionLiftLock
	Scope  schemas.LockScope
	Key    string // the lock key, in the engine's text form ("user|ip" for user_ip)
	Detail string
}

// RecordAdminAction stores an admin action in the admin_actions table. It
// inserts at once (not through the buffer) and does not retry: the caller
// reports the error to the operator.
func (w *Writer) RecordAdminAction(ctx context.Context, a AdminAction) error {
	if a.Action == "" {
		return errors.New("history: admin action needs an action")
	}
	if a.Action == ActionLiftLock && (!a.Scope.Valid() || a.Key == "") {
		return fmt.Errorf("history: %s needs a valid scope and a key (got %q, %q)", ActionLiftLock, a.Scope, a.Key)
	}
	at := a.At
	if at.IsZero() {
		at = time.Now()
	}
	err := insertRow(ctx, w.conn, "INSERT INTO admin_actions (at, actor, action, scope, key, detail)",
		clampDateTime(at), a.Actor, a.Action, string(a.Scope), a.Key, a.Detail)
	if err != nil {
		return fmt.Errorf("history: recording admin action %s: %w", a.Action, err)
	}
	return nil
}
