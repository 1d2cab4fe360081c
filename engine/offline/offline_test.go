package offline_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/loginrisk/loginrisk/engine/testkit"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/offline"
	"github.com/loginrisk/loginrisk/schemas"
)

func lane(t *testing.T) offline.Lane {
	t.Helper()
	eng, store := testkit.Engine(t, "", engine.Config{})
	return offline.Lane{Engine: eng, State: store}
}

// TestRunFeedsEveryLaneEveryEvent: each lane decides each valid event
// with its own state, in order; bad lines are reported with their number.
func TestRunFeedsEveryLaneEveryEvent(t *testing.T) {
	var in strings.Builder
	for i := range 6 {
		in.WriteString(`{"event_id":"e` + string(rune('0'+i)) + `","occurred_at":"2026-11-02T09:00:0` + string(rune('0'+i)) + `Z","user_id":"alice","outcome":"failure","ip":"198.51.100.7"}` + "\n")
		if i == 2 {
			in.WriteString("\n{not json\n")
		}
	}
	var errw bytes.Buffer
	src := offline.NewNDJSON(strings.NewReader(in.String()), &errw)
	var ids []string
	var verdicts [2][]schemas.Verdict
	st, err := offline.Run(context.Background(), src, []offline.Lane{lane(t), lane(t)}, func(ev *schemas.LoginEvent, out []engine.Scored) error {
		ids = append(ids, ev.EventID)
		for i := range out {
			verdicts[i] = append(verdicts[i], out[i].Decision.Decision)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Events != 6 || src.Invalid != 1 || !strings.HasPrefix(errw.String(), "line 5: ") {
		t.Errorf("events %d, invalid %d, report %q; want 6, 1 and line 5", st.Events, src.Invalid, errw.String())
	}
	if strings.Join(ids, " ") != "e0 e1 e2 e3 e4 e5" {
		t.Errorf("events visited %v, want e0..e5 in order", ids)
	}
	// Five failures from one network lock alice out there (failure_burst)
	// in each lane alike: the lanes do not share state.
	want := []schemas.Verdict{"allow", "allow", "allow", "allow", "lockout", "lockout"}
	for i := range verdicts {
		for j, v := range verdicts[i] {
			if v != want[j] {
				t.Errorf("lane %d event %d: %s, want %s", i, j, v, want[j])
			}
		}
	}
}
