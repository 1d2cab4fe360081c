package engine

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// Attack mode: the platform-wide view that per-address and per-network
// counters lack. Credential stuffing through residential proxies sends one
// or two tries per address, so no address counter rises; what rises is the
// platform's failure count, the share of its failures that are failures,
// unknown_user failures, and failures on accounts that never fail. The
// detector compares each with a baseline learned per hour of the week and
// switches the engine into attack mode (docs/detection.md, "Attack mode").
// Everything runs on event time (occurred_at): replay gives the same mode
// at the same events.

// AttackModeConfig holds the detector's thresholds; zero fields take the
// defaults of DefaultAttackModeConfig.
type AttackModeConfig struct {
	// MinFailures is the minimum volume: fewer failures than this in the
	// window never turn the mode on, whatever the ratios (a quiet site at
	// 3 am with four failures instead of one is not under attack).
	MinFailures int
	// RateFactor: the window's failures must be at least RateFactor times
	// the baseline's expected failures for the window.
	RateFactor float64
	// The composition must also have changed, one of three ways:
	// ShareFactor: the failure share (failures / attempts) is at least
	// ShareFactor times the baseline share;
	ShareFactor float64
	// UnknownShareRise: the unknown_user share of failures is at least
	// this much above its baseline;
	UnknownShareRise float64
	// NeverFailFactor: failures on accounts that never fail, per attempt,
	// are at least this many times their baseline.
	NeverFailFactor float64
	// ExitHold is how long every signal must stay calm (below the exit
	// levels: half the volume, 1.5× the rate, 1.25× the shares, +0.1 the
	// unknown share) before the mode turns off.
	ExitHold time.Duration
	// Alpha is the EWMA weight of a newly closed hour in its
	// hour-of-week bucket; GlobalAlpha the weight in the all-hours
	// baseline that stands in for buckets not yet seen (the warm start).
	Alpha       float64
	GlobalAlpha float64
}

// DefaultAttackModeConfig returns the documented defaults.
func DefaultAttackModeConfig() AttackModeConfig {
	return AttackModeConfig{
		MinFailures:      40,
		RateFactor:       3,
		ShareFactor:      2,
		UnknownShareRise: 0.25,
		NeverFailFactor:  3,
		ExitHold:         10 * time.Minute,
		Alpha:            0.3,
		GlobalAlpha:      0.1,
	}
}

func (c *AttackModeConfig) fill() {
	d := DefaultAttackModeConfig()
	c.MinFailures = positiveOr(c.MinFailures, d.MinFailures)
	c.RateFactor = positiveOr(c.RateFactor, d.RateFactor)
	c.ShareFactor = positiveOr(c.ShareFactor, d.ShareFactor)
	c.UnknownShareRise = positiveOr(c.UnknownShareRise, d.UnknownShareRise)
	c.NeverFailFactor = positiveOr(c.NeverFailFactor, d.NeverFailFactor)
	c.ExitHold = positiveOr(c.ExitHold, d.ExitHold)
	if c.Alpha <= 0 || c.Alpha > 1 {
		c.Alpha = d.Alpha
	}
	if c.GlobalAlpha <= 0 || c.GlobalAlpha > 1 {
		c.GlobalAlpha = d.GlobalAlpha
	}
}

// positiveOr is v when it is positive, else def (a setting left unset).
func positiveOr[T int | float64 | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

const (
	attackWindowMinutes = 15     // the sliding window, in one-minute buckets
	hoursPerWeek        = 7 * 24 // baseline buckets
	attackShareFloor    = 0.01   // baseline shares are at least this
	attackWindow        = attackWindowMinutes * time.Minute
	windowsPerHour      = float64(time.Hour / attackWindow)
	maxPendingChanges   = 64 // changes kept for the history until taken
)

// attackCounts is what the detector counts, per minute, per hour and as a
// baseline (float: an EWMA of hourly counts).
type attackCounts struct {
	attempts, failures, unknownUser, neverFail float64
}

func (c *attackCounts) add(o attackCounts) {
	c.attempts += o.attempts
	c.failures += o.failures
	c.unknownUser += o.unknownUser
	c.neverFail += o.neverFail
}

// ewma moves b towards x by alpha; a first observation is taken whole.
func (c *attackCounts) ewma(x attackCounts, alpha float64, first bool) {
	if first {
		*c = x
		return
	}
	c.attempts += alpha * (x.attempts - c.attempts)
	c.failures += alpha * (x.failures - c.failures)
	c.unknownUser += alpha * (x.unknownUser - c.unknownUser)
	c.neverFail += alpha * (x.neverFail - c.neverFail)
}

// AttackModeStatus is the detector's view at an instant: the mode and the
// signals it is decided on. The same values are features of every attempt.
type AttackModeStatus struct {
	On bool `json:"on"`
	// Since is when the mode last changed (zero before the first change).
	Since time.Time `json:"since,omitzero"`
	// At is the event time the status was computed at.
	At time.Time `json:"at,omitzero"`
	// Learning is true until one hour of traffic has been learned: the
	// mode cannot turn on before there is a baseline.
	Learning bool `json:"learning"`
	// Failures15m is the platform's failures in the last 15 minutes.
	Failures15m int `json:"failures_15m"`
	// FailureRateRatio is Failures15m over the baseline's expected
	// failures for 15 minutes at this hour of the week.
	FailureRateRatio float64 `json:"failure_rate_ratio"`
	// FailureShare and BaselineFailureShare: failures / attempts.
	FailureShare         float64 `json:"failure_share"`
	BaselineFailureShare float64 `json:"baseline_failure_share"`
	// UnknownUserShare and BaselineUnknownUserShare: unknown_user
	// failures / failures.
	UnknownUserShare         float64 `json:"unknown_user_share"`
	BaselineUnknownUserShare float64 `json:"baseline_unknown_user_share"`
	// NeverFailRatio is the failures on accounts that never fail per
	// attempt, over the same in the baseline.
	NeverFailRatio float64 `json:"never_fail_ratio"`
}

// AttackModeChange is one start or end of attack mode, for the log and
// the history.
type AttackModeChange struct {
	Status AttackModeStatus
}

// attackDetector is the state of attack mode. One mutex guards it: it is a
// handful of floats updated once per event.
type attackDetector struct {
	cfg AttackModeConfig
	log *slog.Logger

	mu      sync.Mutex
	minute  int64 // Unix minute of minutes[minute % len]
	minutes [attackWindowMinutes]attackCounts
	started bool

	hour       int64 // Unix hour being counted
	hourCounts attackCounts
	hourAttack bool // the mode was on during this hour: it teaches nothing

	buckets [hoursPerWeek]attackCounts
	seen    [hoursPerWeek]bool
	global  attackCounts
	learned int // closed hours learned

	status    AttackModeStatus
	calmSince time.Time // start of the current calm spell while on; zero when not calm
	changes   []AttackModeChange
}

func newAttackDetector(cfg AttackModeConfig, log *slog.Logger) *attackDetector {
	cfg.fill()
	return &attackDetector{cfg: cfg, log: log}
}

// attackSignal classifies an attempt from its event and its behavioural
// features.
func attackSignal(ev *schemas.LoginEvent, f *schemas.Features) attackCounts {
	c := attackCounts{attempts: 1}
	if ev.Outcome != schemas.OutcomeFailure {
		return c
	}
	c.failures = 1
	if ev.FailureReason == "unknown_user" {
		c.unknownUser = 1
	}
	// An account that never fails: it has a success on record and this
	// is its only failure in the last 24 hours.
	if f.UserKnown && f.UserFailures24h <= 1 {
		c.neverFail = 1
	}
	return c
}

// hourOfWeek is the baseline bucket of a Unix hour: 0 is Monday 00:00 UTC.
func hourOfWeek(unixHour int64) int {
	// 1970-01-01 was a Thursday: hour 0 is Thursday 00:00, 72 hours after
	// a Monday 00:00.
	return int((unixHour + 72) % hoursPerWeek)
}

// observe counts one attempt (record) or only reads (dry run), and writes
// the mode and its signals into f.
func (d *attackDetector) observe(ev *schemas.LoginEvent, f *schemas.Features, record bool) {
	at := ev.OccurredAt
	d.mu.Lock()
	if record {
		d.advance(at)
		c := attackSignal(ev, f)
		m := at.Unix() / 60
		if m > d.minute-attackWindowMinutes { // too old for the window: dropped
			d.minutes[m%attackWindowMinutes].add(c)
		}
		if at.Unix()/3600 == d.hour {
			d.hourCounts.add(c)
		}
		d.evaluate(at)
	}
	st := d.status
	d.mu.Unlock()
	f.AttackMode = st.On
	f.PlatformFailures15m = st.Failures15m
	f.PlatformFailureRateRatio = st.FailureRateRatio
	f.PlatformFailureShare = st.FailureShare
	f.PlatformUnknownUserShare = st.UnknownUserShare
	f.PlatformNeverFailRatio = st.NeverFailRatio
}

// advance moves the window and the hour to at (never backwards).
func (d *attackDetector) advance(at time.Time) {
	m := at.Unix() / 60
	if !d.started {
		d.started, d.minute, d.hour = true, m, at.Unix()/3600
		return
	}
	if m > d.minute {
		for i := d.minute + 1; i <= m && i <= d.minute+attackWindowMinutes; i++ {
			d.minutes[i%attackWindowMinutes] = attackCounts{}
		}
		d.minute = m
	}
	if h := at.Unix() / 3600; h > d.hour {
		d.closeHour()
		d.hour, d.hourCounts, d.hourAttack = h, attackCounts{}, d.status.On
	}
}

// closeHour learns the hour just ended, unless attack mode was on in it or
// it had no attempt (an empty hour teaches nothing).
func (d *attackDetector) closeHour() {
	if d.hourAttack || d.status.On || d.hourCounts.attempts == 0 {
		return
	}
	b := hourOfWeek(d.hour)
	d.buckets[b].ewma(d.hourCounts, d.cfg.Alpha, !d.seen[b])
	d.seen[b] = true
	d.global.ewma(d.hourCounts, d.cfg.GlobalAlpha, d.learned == 0)
	d.learned++
}

// baseline is the expected counts for one hour at the hour of the week of
// the current hour: its bucket, or the all-hours baseline while that
// bucket has never been seen (warm start).
func (d *attackDetector) baseline() attackCounts {
	b := hourOfWeek(d.hour)
	if d.seen[b] {
		return d.buckets[b]
	}
	return d.global
}

func share(num, den, floor float64) float64 {
	if den <= 0 {
		return floor
	}
	return max(num/den, floor)
}

// evaluate recomputes the status at event time at, and switches the mode.
func (d *attackDetector) evaluate(at time.Time) {
	var w attackCounts
	for i := range d.minutes {
		w.add(d.minutes[i])
	}
	base := d.baseline()
	expFailures := max(base.failures/windowsPerHour, 1)
	baseFailShare := share(base.failures, base.attempts, attackShareFloor)
	baseUnknown := share(base.unknownUser, base.failures, 0)
	baseNeverFail := share(base.neverFail, base.attempts, attackShareFloor/10)

	st := &d.status
	st.At = at
	st.Learning = d.learned == 0
	st.Failures15m = int(w.failures)
	st.FailureRateRatio = w.failures / expFailures
	st.FailureShare = share(w.failures, w.attempts, 0)
	st.BaselineFailureShare = baseFailShare
	st.UnknownUserShare = share(w.unknownUser, w.failures, 0)
	st.BaselineUnknownUserShare = baseUnknown
	st.NeverFailRatio = share(w.neverFail, w.attempts, 0) / baseNeverFail

	cfg := &d.cfg
	if !st.On {
		if st.Learning || st.Failures15m < cfg.MinFailures || st.FailureRateRatio < cfg.RateFactor {
			return
		}
		if st.FailureShare >= cfg.ShareFactor*baseFailShare ||
			st.UnknownUserShare >= baseUnknown+cfg.UnknownShareRise ||
			st.NeverFailRatio >= cfg.NeverFailFactor {
			d.change(true, at)
		}
		return
	}
	calm := st.Failures15m < cfg.MinFailures/2 || st.FailureRateRatio < 1.5 ||
		(st.FailureShare < 1.25*baseFailShare && st.UnknownUserShare < baseUnknown+0.1 && st.NeverFailRatio < 1.25)
	switch {
	case !calm:
		d.calmSince = time.Time{}
	case d.calmSince.IsZero():
		d.calmSince = at
	case at.Sub(d.calmSince) >= cfg.ExitHold:
		d.change(false, at)
	}
}

// change switches the mode, logs it once and queues it for the history.
func (d *attackDetector) change(on bool, at time.Time) {
	d.status.On, d.status.Since, d.calmSince = on, at, time.Time{}
	if on {
		d.hourAttack = true
	}
	st := d.status
	msg := "attack mode ended"
	if on {
		msg = "attack mode started"
	}
	d.log.Warn(msg,
		slog.Time("at", at),
		slog.Int("failures_15m", st.Failures15m),
		slog.Float64("failure_rate_ratio", st.FailureRateRatio),
		slog.Float64("failure_share", st.FailureShare),
		slog.Float64("unknown_user_share", st.UnknownUserShare),
		slog.Float64("never_fail_ratio", st.NeverFailRatio))
	if len(d.changes) >= maxPendingChanges { // nobody takes them: keep the newest
		d.changes = d.changes[1:]
	}
	d.changes = append(d.changes, AttackModeChange{Status: st})
}

// snapshot returns the current status.
func (d *attackDetector) snapshot() AttackModeStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.status
}

// takeChanges returns the changes not yet taken, oldest first.
func (d *attackDetector) takeChanges() []AttackModeChange {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.changes
	d.changes = nil
	return out
}

// AttackMode returns the current status of attack mode.
func (e *Engine) AttackMode() AttackModeStatus { return e.attack.snapshot() }

// AttackModeChanges returns the starts and ends of attack mode since the
// last call, oldest first, for the history; each is returned once.
func (e *Engine) AttackModeChanges() []AttackModeChange { return e.attack.takeChanges() }

// AttackModeHistory keeps the starts and ends of attack mode; a
// HistoryWriter that implements it (history.Writer) gets them with the
// batch they happened in.
type AttackModeHistory interface {
	RecordAttackModeChanges(ctx context.Context, changes []AttackModeChange) error
}

// recordAttackModeChanges stores the changes not yet stored, when the
// history keeps them. On an error they are kept for the next batch's
// retry; a change stored twice is one row once merged (the table is keyed
// on its time and direction).
func (e *Engine) recordAttackModeChanges(ctx context.Context) error {
	h, ok := e.cfg.Recorder.History.(AttackModeHistory)
	if !ok {
		return nil
	}
	changes := e.attack.takeChanges()
	if len(changes) == 0 {
		return nil
	}
	if err := h.RecordAttackModeChanges(ctx, changes); err != nil {
		e.attack.requeue(changes)
		return fmt.Errorf("recording attack mode changes: %w", err)
	}
	return nil
}

// requeue puts changes that could not be stored back in front of the
// queue.
func (d *attackDetector) requeue(changes []AttackModeChange) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.changes = append(changes, d.changes...)
	if n := len(d.changes) - maxPendingChanges; n > 0 {
		d.changes = d.changes[n:]
	}
}
