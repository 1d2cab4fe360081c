package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// feedDecision is a decision at time at with a verdict and reasons.
func feedDecision(id string, at time.Time, v schemas.Verdict, rules ...string) *schemas.Decision {
	d := &schemas.Decision{EventID: id, UserID: "u-" + id, OccurredAt: at, Decision: v}
	for _, r := range rules {
		d.Reasons = append(d.Reasons, schemas.Reason{Rule: r})
	}
	return d
}

func TestFeedSeriesCountsDecisionsPerSecondByVerdict(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	fd := newFeed(16)
	failed := &schemas.Features{Failure: true, Network: "198.51.100.0/24", ASNKnown: true, ASN: 64500, ASOrg: "Example"}
	ok := &schemas.Features{Success: true, Network: "203.0.113.0/24"}
	fd.add(feedDecision("old", now.Add(-FeedWindow), schemas.VerdictAllow), ok) // just outside the window
	fd.add(feedDecision("a", now.Add(-10*time.Second), schemas.VerdictAllow), ok)
	fd.add(feedDecision("b", now.Add(-10*time.Second+time.Millisecond), schemas.VerdictChallenge, "new_device"), failed)
	fd.add(feedDecision("c", now, schemas.VerdictLockout, "failure_burst", schemas.ReasonLocked), failed)
	s := fd.Series(now)
	if len(s.Allow) != int(feedSeconds) || s.Start != now.Unix()-feedSeconds+1 {
		t.Fatalf("series of %d seconds from %d, want %d from %d", len(s.Allow), s.Start, feedSeconds, now.Unix()-feedSeconds+1)
	}
	tenAgo := int(feedSeconds) - 11
	if s.Allow[tenAgo] != 1 || s.Challenge[tenAgo] != 1 || s.Lockout[len(s.Lockout)-1] != 1 {
		t.Errorf("allow %d challenge %d ten seconds ago, lockout %d now; want 1, 1, 1", s.Allow[tenAgo], s.Challenge[tenAgo], s.Lockout[len(s.Lockout)-1])
	}
	var total int64
	for i := range s.Allow {
		total += s.Allow[i] + s.Challenge[i] + s.Lockout[i]
	}
	if total != 3 {
		t.Errorf("%d decisions in the window, want 3 (the one a window ago is out)", total)
	}

	top := fd.Top(now, 10)
	if len(top.Rules) != 2 || top.Rules[0].Key != "failure_burst" && top.Rules[0].Key != "new_device" {
		t.Errorf("top rules %+v, want failure_burst and new_device (locked is not a rule)", top.Rules)
	}
	if len(top.Networks) != 1 || top.Networks[0] != (Count{Key: "198.51.100.0/24", Count: 2}) {
		t.Errorf("failing networks %+v, want 198.51.100.0/24 ×2 (successes do not count)", top.Networks)
	}
	if len(top.ASNs) != 1 || top.ASNs[0] != (Count{Key: "AS64500", Label: "Example", Count: 2}) {
		t.Errorf("failing ASNs %+v", top.ASNs)
	}
	if later := fd.Top(now.Add(FeedWindow+time.Minute), 10); len(later.Rules)+len(later.Networks) != 0 {
		t.Errorf("a window later the top lists still hold %+v", later)
	}
}

func TestFeedRecentIsNewestFirstAndBounded(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	fd := newFeed(4)
	for i := range 6 {
		fd.add(feedDecision(fmt.Sprint(i), now.Add(time.Duration(i)*time.Second), schemas.VerdictAllow), &schemas.Features{City: fmt.Sprint("city", i)})
	}
	got := fd.Recent(10, nil)
	if len(got) != 4 || got[0].Decision.EventID != "5" || got[3].Decision.EventID != "2" || got[0].Features.City != "city5" {
		ids := []string{}
		for _, e := range got {
			ids = append(ids, e.Decision.EventID)
		}
		t.Fatalf("recent %v, want 5 4 3 2 with their features", ids)
	}
	odd := fd.Recent(1, func(e *FeedEntry) bool { return e.Decision.EventID == "3" })
	if len(odd) != 1 || odd[0].Decision.EventID != "3" {
		t.Errorf("filtered %+v", odd)
	}
	if _, ok := fd.Find("1"); ok {
		t.Error("Find returned a decision the ring dropped")
	}
	if e, ok := fd.Find("4"); !ok || e.Features.City != "city4" {
		t.Errorf("Find(4) = %+v, %v", e, ok)
	}
}

func TestFeedRemembersTheDecisionThatSetALock(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	fd := newFeed(4)
	lock := schemas.Lock{Scope: schemas.ScopeUserIP, Key: "ivan|198.51.100.50", Until: now.Add(10 * time.Minute), Rule: "failure_burst"}
	set := feedDecision("set", now, schemas.VerdictLockout, "failure_burst")
	set.Lock = &lock
	fd.add(set, &schemas.Features{})
	refused := feedDecision("refused", now.Add(time.Minute), schemas.VerdictLockout, schemas.ReasonLocked)
	refused.Lock = &lock
	fd.add(refused, &schemas.Features{})
	if got := fd.SetBy(lock); got != "set" {
		t.Errorf("SetBy = %q, want the decision that set the lock, not one it refused", got)
	}
	longer := lock
	longer.Until = now.Add(time.Hour)
	if got := fd.SetBy(longer); got != "" {
		t.Errorf("SetBy of a lock with another expiry = %q, want none", got)
	}
}
