package history

import (
	"context"
	"fmt"

	"github.com/loginrisk/loginrisk/engine"
)

// RecordAttackModeChanges stores starts and ends of attack mode in the
// attack_mode_changes table (engine.AttackModeHistory). It inserts at once:
// there are a few a day at most. A change stored twice is one row once
// merged (ReplacingMergeTree on at and started).
func (w *Writer) RecordAttackModeChanges(ctx context.Context, changes []engine.AttackModeChange) error {
	b, err := w.conn.PrepareBatch(ctx, "INSERT INTO attack_mode_changes (at, started, failures_15m, failure_rate_ratio, failure_share, baseline_failure_share, unknown_user_share, baseline_unknown_user_share, never_fail_ratio)")
	if err != nil {
		return fmt.Errorf("history: recording attack mode changes: %w", err)
	}
	for _, c := range changes {
		st := &c.Status
		if err := b.Append(clampDateTime(st.Since), flag(st.On), count(st.Failures15m), st.FailureRateRatio, st.FailureShare,
			st.BaselineFailureShare, st.UnknownUserShare, st.BaselineUnknownUserShare, st.NeverFailRatio); err != nil {
			_ = b.Abort()
			return fmt.Errorf("history: recording attack mode changes: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("history: recording attack mode changes: %w", err)
	}
	return nil
}
