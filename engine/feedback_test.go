package engine_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/schemas"
)

// geoEngine is an engine with the shipped rules, the repository's GeoIP
// test databases and the given recorder and feedback store.
func geoEngine(t *testing.T, rec engine.Recorder, fb engine.FeedbackWriter) *engine.Engine {
	t.Helper()
	eng, _ := testkit.Engine(t, "", engine.Config{Enricher: testkit.Enricher(t), Recorder: rec, Feedback: fb})
	return eng
}

// labels is a FeedbackWriter that keeps the labels in memory (the
// ClickHouse one is tested in engine/history).
type labels struct {
	mu  sync.Mutex
	got []schemas.Feedback
	err error
}

func (l *labels) RecordFeedback(_ context.Context, fb schemas.Feedback) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return l.err
	}
	l.got = append(l.got, fb)
	return nil
}

// published keeps the decisions an engine publishes, as the decisions
// topic would for the other instances.
type published struct {
	mu sync.Mutex
	ds []*schemas.Decision
}

func (p *published) PublishDecisions(_ context.Context, ds []*schemas.Decision) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ds = append(p.ds, ds...)
	return nil
}

const (
	firefox  = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	london   = "81.2.69.160"
	paris    = "90.84.118.42"
	parisToo = "90.84.118.43" // the same /24
)

// geoScorer scores one user's attempts on an engine.
type geoScorer struct {
	t   *testing.T
	eng *engine.Engine
}

func (s geoScorer) score(id, ip string, at time.Time, outcome schemas.Outcome, mutate func(*schemas.LoginEvent)) *schemas.Decision {
	s.t.Helper()
	ev := loginEvent(s.t, id, "bob", ip, at, outcome)
	ev.UserAgent, ev.DeviceID, ev.TenantID = firefox, "dev-bob", "acme"
	if mutate != nil {
		mutate(ev)
	}
	if err := schemas.Validate(ev); err != nil {
		s.t.Fatal(err)
	}
	sc, err := s.eng.Score(ev, false)
	if err != nil {
		s.t.Fatal(err)
	}
	return sc.Decision
}

// atHome makes bob of acme a known user in London.
func (s geoScorer) atHome() {
	for i, id := range []string{"home1", "home2"} {
		if d := s.score(id, london, coreT0.Add(time.Duration(i)*time.Hour), schemas.OutcomeSuccess, nil); d.Decision != schemas.VerdictAllow {
			s.t.Fatalf("bob at home: %s %+v", d.Decision, d.Reasons)
		}
	}
}

// burst has bob fail five times from Paris, which locks that address out
// of his account; it returns the lockout's event_id.
func (s geoScorer) burst(start time.Time) string {
	var d *schemas.Decision
	for i := range 5 {
		d = s.score("paris-fail-"+string(rune('1'+i)), paris, start.Add(time.Duration(i)*time.Second), schemas.OutcomeFailure, nil)
	}
	if d.Decision != schemas.VerdictLockout || d.Lock == nil || d.Lock.Scope != schemas.ScopeUserIP {
		s.t.Fatalf("fifth failure from Paris: %s %+v", d.Decision, d.Lock)
	}
	return d.EventID
}

// TestFalsePositiveLiftsAndTrusts: an analyst's false_positive on a
// lockout is stored, lifts the lock that lockout set and makes its
// context (network, city, device) familiar to the user, on this instance
// and, through the two records it publishes, on another one; without the
// label bob's next login from Paris is challenged for the new city.
func TestFalsePositiveLiftsAndTrusts(t *testing.T) {
	var pub published
	store := &labels{}
	eng := geoEngine(t, engine.Recorder{Publisher: &pub}, store)
	s := geoScorer{t, eng}
	s.atHome()
	lockedAt := coreT0.Add(3 * time.Hour)
	id := s.burst(lockedAt)
	follower := geoEngine(t, engine.Recorder{}, nil)
	f := geoScorer{t, follower}
	f.atHome()
	f.burst(lockedAt)
	control := geoEngine(t, engine.Recorder{}, nil)
	c := geoScorer{t, control}
	c.atHome()
	c.burst(lockedAt)

	labelAt := lockedAt.Add(time.Minute)
	out, err := eng.Feedback(context.Background(), schemas.Feedback{EventID: id, At: labelAt, Label: schemas.LabelFalsePositive, Actor: "soc", Note: "bob forgot his password"})
	if err != nil {
		t.Fatal(err)
	}
	if len(store.got) != 1 || store.got[0].EventID != id || store.got[0].Actor != "soc" {
		t.Errorf("stored labels %+v", store.got)
	}
	if out.Lifted == nil || out.Record == nil || out.Record.Feedback == nil {
		t.Fatalf("outcome %+v: want a lift and a feedback record", out)
	}
	if fb := out.Record.Feedback; fb.TenantID != "acme" || fb.Network != "90.84.118.0/24" || fb.DeviceID != "dev-bob" || fb.EventID != id {
		t.Errorf("feedback record context %+v", fb)
	}
	if got := eng.Locks().Active(labelAt); len(got) != 0 {
		t.Errorf("locks after the false positive: %+v", got)
	}
	if len(pub.ds) < 2 {
		t.Fatalf("published %d records, want the lift and the feedback record", len(pub.ds))
	}
	for _, d := range pub.ds {
		if err := follower.ApplyDecision(d); err != nil {
			t.Fatalf("follower applying %s: %v", d.EventID, err)
		}
	}
	if got := follower.Locks().Active(labelAt); len(got) != 0 {
		t.Errorf("the follower's locks after the records: %+v", got)
	}
	// After the failures' 15 minutes, bob logs in from Paris.
	later := lockedAt.Add(20 * time.Minute)
	for name, e := range map[string]geoScorer{"labelling instance": s, "follower": f} {
		if d := e.score("paris-ok-"+name, parisToo, later, schemas.OutcomeSuccess, nil); d.Decision != schemas.VerdictAllow {
			t.Errorf("%s: bob from Paris after the false positive: %s %+v, want allow", name, d.Decision, d.Reasons)
		}
	}
	if d := c.score("paris-ok-control", parisToo, later, schemas.OutcomeSuccess, nil); d.Decision != schemas.VerdictChallenge {
		t.Errorf("without the label, bob from Paris: %s %+v, want challenge (the test shows nothing otherwise)", d.Decision, d.Reasons)
	}
}

// TestConfirmedAttackMarksTheNetwork: a confirmed_attack keeps the lock and
// makes the attempt's /24 hostile on every instance: another user's login
// from it reads network_hostile and is challenged by the shipped
// hostile_network rule.
func TestConfirmedAttackMarksTheNetwork(t *testing.T) {
	var pub published
	eng := geoEngine(t, engine.Recorder{Publisher: &pub}, &labels{})
	s := geoScorer{t, eng}
	s.atHome()
	lockedAt := coreT0.Add(3 * time.Hour)
	id := s.burst(lockedAt)
	follower := geoEngine(t, engine.Recorder{}, nil)
	labelAt := lockedAt.Add(time.Minute)
	out, err := eng.Feedback(context.Background(), schemas.Feedback{EventID: id, At: labelAt, Label: schemas.LabelConfirmedAttack, Actor: "soc"})
	if err != nil {
		t.Fatal(err)
	}
	if out.Lifted != nil || len(eng.Locks().Active(labelAt)) != 1 {
		t.Errorf("a confirmed attack lifted its lock: %+v", out.Lifted)
	}
	for _, d := range pub.ds {
		if err := follower.ApplyDecision(d); err != nil {
			t.Fatal(err)
		}
	}
	for name, e := range map[string]*engine.Engine{"labelling instance": eng, "follower": follower} {
		ev := loginEvent(t, "carol-"+name, "carol", parisToo, labelAt.Add(time.Hour), schemas.OutcomeSuccess)
		sc, err := e.Score(ev, false)
		if err != nil {
			t.Fatal(err)
		}
		if !sc.Features.NetworkHostile || sc.Decision.Decision == schemas.VerdictAllow || !engine.HasReason(sc.Decision, "hostile_network") {
			t.Errorf("%s: carol from the hostile network: network_hostile %v, %s %+v", name, sc.Features.NetworkHostile, sc.Decision.Decision, sc.Decision.Reasons)
		}
	}
}

// TestFeedbackErrors: a label of an unknown decision, an unknown label
// and a label that cannot be stored change nothing.
func TestFeedbackErrors(t *testing.T) {
	store := &labels{}
	eng := geoEngine(t, engine.Recorder{}, store)
	s := geoScorer{t, eng}
	s.atHome()
	id := s.burst(coreT0.Add(3 * time.Hour))
	at := coreT0.Add(4 * time.Hour)
	if _, err := eng.Feedback(context.Background(), schemas.Feedback{EventID: "nope", At: at, Label: schemas.LabelExpected}); !errors.Is(err, engine.ErrNoSuchDecision) {
		t.Errorf("unknown event: %v", err)
	}
	if _, err := eng.Feedback(context.Background(), schemas.Feedback{EventID: id, At: at, Label: "fine"}); !errors.Is(err, engine.ErrBadFeedback) {
		t.Errorf("unknown label: %v", err)
	}
	store.err = errors.New("clickhouse down")
	lockAt := coreT0.Add(3*time.Hour + 10*time.Second)
	if _, err := eng.Feedback(context.Background(), schemas.Feedback{EventID: id, At: lockAt, Label: schemas.LabelFalsePositive}); err == nil || len(eng.Locks().Active(lockAt)) != 1 {
		t.Errorf("a label that could not be stored: %v, locks %v", err, eng.Locks().Active(lockAt))
	}
	noStore := geoEngine(t, engine.Recorder{}, nil)
	geoScorer{t, noStore}.atHome()
	if _, err := noStore.Feedback(context.Background(), schemas.Feedback{EventID: "home1", At: at, Label: schemas.LabelExpected}); !errors.Is(err, engine.ErrNoFeedbackStore) {
		t.Errorf("no store: %v", err)
	}
}

// TestForgedFeedbackRecordsAreRefused: a feedback record whose network is
// not its address's, or whose label or user is missing, changes nothing
// and is an error the follower counts.
func TestForgedFeedbackRecordsAreRefused(t *testing.T) {
	eng := geoEngine(t, engine.Recorder{}, nil)
	at := coreT0
	record := func(mutate func(*schemas.Decision)) *schemas.Decision {
		d := &schemas.Decision{EventID: "feedback-x", UserID: "bob", IP: paris, OccurredAt: at, DecidedAt: at, Decision: schemas.VerdictAllow,
			Reasons: []schemas.Reason{{Rule: engine.FeedbackRule}}, Feedback: &schemas.FeedbackContext{Label: schemas.LabelConfirmedAttack, EventID: "x", Network: "90.84.118.0/24"}}
		mutate(d)
		return d
	}
	for name, mutate := range map[string]func(*schemas.Decision){
		"another network":  func(d *schemas.Decision) { d.Feedback.Network = "10.0.0.0/8" },
		"an unknown label": func(d *schemas.Decision) { d.Feedback.Label = "meh" },
		"no user":          func(d *schemas.Decision) { d.UserID = "" },
		"no address":       func(d *schemas.Decision) { d.IP = "" },
	} {
		if err := eng.ApplyDecision(record(mutate)); !errors.Is(err, engine.ErrBadFeedbackRecord) {
			t.Errorf("%s: %v, want ErrBadFeedbackRecord", name, err)
		}
	}
	ev := loginEvent(t, "probe", "carol", parisToo, at.Add(time.Minute), schemas.OutcomeSuccess)
	if sc, err := eng.Score(ev, true); err != nil || sc.Features.NetworkHostile {
		t.Errorf("after forged records the network is hostile: %v", err)
	}
	if err := eng.ApplyDecision(record(func(*schemas.Decision) {})); err != nil {
		t.Fatal(err)
	}
	if sc, err := eng.Score(ev, true); err != nil || !sc.Features.NetworkHostile {
		t.Errorf("a valid record did not mark the network: %v", err)
	}
}
