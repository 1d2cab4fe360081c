package eval

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/offline"
	"github.com/loginrisk/loginrisk/schemas"
)

// Report is the outcome of an evaluation.
type Report struct {
	Stats offline.Stats
	Tally *Tally
}

// Run scores every event of src through the engine of lane, exactly as
// replay does, and through a fail2ban baseline with its default jail, and
// tallies both against labels. A duplicate event_id counts once.
func Run(ctx context.Context, src offline.Source, lane offline.Lane, labels Labels) (*Report, error) {
	tally := NewTally(SystemEngine, SystemFail2ban)
	baseline := NewFail2ban(Fail2banConfig{})
	st, err := offline.Run(ctx, src, []offline.Lane{lane}, func(ev *schemas.LoginEvent, outcomes []engine.Scored) error {
		if outcomes[0].Duplicate {
			return nil
		}
		l, ok := labels[ev.EventID]
		if !ok {
			tally.Unlabelled++
			return nil
		}
		tally.Add(ev, l, outcomes[0].Decision.Decision, baseline.Decide(ev))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Report{Stats: st, Tally: tally}, nil
}

// Write prints the report as two Markdown tables: attacks, then genuine
// logins, each kind with the engine's row above the baseline's.
func (r *Report) Write(w io.Writer) error {
	attacks, benign := r.Tally.Rows()
	var b strings.Builder
	fmt.Fprintf(&b, "%d events scored, %d without a label.\n\n", r.Stats.Events, r.Tally.Unlabelled)
	b.WriteString("Attacks: a campaign is detected at its first attempt challenged or refused; refused: at least one attempt locked out.\n\n")
	b.WriteString("| attack kind | system | campaigns detected | refused | attempts until detection: median (per campaign) | successes stopped |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- |\n")
	for _, a := range attacks {
		until := "-"
		if len(a.AttemptsToDetect) > 0 {
			until = fmt.Sprintf("%g (%s)", a.MedianAttempts(), joinInts(a.AttemptsToDetect))
		}
		stopped := "-"
		if a.Successes > 0 {
			stopped = fmt.Sprintf("%d / %d", a.SuccessesStopped, a.Successes)
		}
		fmt.Fprintf(&b, "| %s | %s | %d / %d | %d | %s | %s |\n", a.Kind, a.System, a.Detected, a.Campaigns, a.Refused, until, stopped)
	}
	b.WriteString("\nGenuine logins: challenged attempts, refused attempts (lockouts) and users refused at least once.\n\n")
	b.WriteString("| genuine kind | system | attempts | users | challenged | lockouts | users locked out |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, g := range benign {
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %.2f %% | %d | %d |\n", g.Kind, g.System, g.Attempts, g.Users, g.ChallengedPercent(), g.Lockouts, g.LockedUsers)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// joinInts formats numbers separated by spaces, the first 12 then "…".
func joinInts(v []int) string {
	var b strings.Builder
	for i, n := range v {
		if i == 12 {
			b.WriteString(" …")
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprint(&b, n)
	}
	return b.String()
}
