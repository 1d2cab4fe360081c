package engine

import (
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// FeedWindow is how far back the feed's counts reach: the console's live
// view shows the last FeedWindow of decisions.
const FeedWindow = 15 * time.Minute

const (
	feedSeconds = int64(FeedWindow / time.Second)
	feedMinutes = int64(FeedWindow / time.Minute)
	// feedKeysPerMinute bounds each per-minute table of rules, networks
	// and ASNs: under an attack from many networks the first ones of a
	// minute are counted and the rest only in that minute's Dropped.
	feedKeysPerMinute = 4096
	// feedMaxLockSetters bounds the index of the decisions that set
	// locks; past it, entries for expired locks are dropped first.
	feedMaxLockSetters = 100_000
)

// Feed is the engine's short memory for an operator's console: the last
// decisions with their features, decisions per second by verdict and the
// rules (shadow rules included), failing networks and failing ASNs of each minute, over the last
// FeedWindow of event time, and the decision that set each lock it saw.
// It is filled by the engine when Config.FeedSize is set and is safe for
// concurrent use. Memory: about FeedSize × 1 KiB, plus at most
// feedKeysPerMinute keys per table and minute.
type Feed struct {
	mu      sync.Mutex
	ring    []FeedEntry // the last len(ring) decisions; next is the oldest
	next    int
	filled  bool
	seconds [feedSeconds]secondCounts
	minutes [feedMinutes]minuteCounts
	setters map[lockID]lockSetter
}

// FeedEntry is one decision in the feed, with a copy of its features.
type FeedEntry struct {
	Decision *schemas.Decision
	Features schemas.Features
}

// secondCounts are the decisions of one second of event time by verdict,
// at the verdict's Severity (allow, challenge, lockout).
type secondCounts struct {
	unix   int64
	counts [3]int64
}

// minuteCounts are the rule hits and failures of one minute of event time.
type minuteCounts struct {
	unix     int64 // the minute's first second
	rules    map[string]int64
	networks map[string]int64
	asns     map[int]int64
	asOrgs   map[int]string
	dropped  int64
}

type lockID struct {
	scope schemas.LockScope
	key   string
}

type lockSetter struct {
	eventID string
	until   time.Time
}

// newFeed returns a feed keeping the last size decisions.
func newFeed(size int) *Feed {
	return &Feed{ring: make([]FeedEntry, size), setters: map[lockID]lockSetter{}}
}

// add records a decision and its features.
func (fd *Feed) add(d *schemas.Decision, f *schemas.Features) {
	at := d.OccurredAt.Unix()
	fd.mu.Lock()
	defer fd.mu.Unlock()
	e := &fd.ring[fd.next]
	e.Decision, e.Features = d, *f
	if fd.next++; fd.next == len(fd.ring) {
		fd.next, fd.filled = 0, true
	}

	sec := &fd.seconds[mod(at, feedSeconds)]
	if sec.unix != at {
		if sec.unix > at {
			return // older than the window the slot now holds
		}
		*sec = secondCounts{unix: at}
	}
	sec.counts[d.Decision.Severity()]++

	minute := at - mod(at, 60)
	m := &fd.minutes[mod(minute/60, feedMinutes)]
	if m.unix != minute {
		if m.unix > minute {
			return
		}
		*m = minuteCounts{unix: minute, rules: map[string]int64{}, networks: map[string]int64{}, asns: map[int]int64{}, asOrgs: map[int]string{}}
	}
	for _, r := range d.Reasons {
		if r.Rule != schemas.ReasonLocked {
			m.dropped += countKey(m.rules, r.Rule)
		}
	}
	for _, h := range d.Shadow {
		m.dropped += countKey(m.rules, h.Rule)
	}
	if f.Failure {
		if f.Network != "" {
			m.dropped += countKey(m.networks, f.Network)
		}
		if f.ASNKnown {
			m.dropped += countKey(m.asns, f.ASN)
			if _, ok := m.asOrgs[f.ASN]; !ok && len(m.asOrgs) < feedKeysPerMinute {
				m.asOrgs[f.ASN] = f.ASOrg
			}
		}
	}
	if d.Lock != nil && d.Lock.Rule != "" {
		id := lockID{d.Lock.Scope, d.Lock.Key}
		if s, ok := fd.setters[id]; !ok || !s.until.Equal(d.Lock.Until) {
			if !ok && len(fd.setters) >= feedMaxLockSetters {
				fd.pruneSettersLocked(d.OccurredAt)
			}
			if ok || len(fd.setters) < feedMaxLockSetters {
				fd.setters[id] = lockSetter{eventID: d.EventID, until: d.Lock.Until}
			}
		}
	}
}

// countKey counts one more for k unless the table is full; it returns the
// count dropped (0 or 1).
func countKey[K comparable](m map[K]int64, k K) int64 {
	if _, ok := m[k]; !ok && len(m) >= feedKeysPerMinute {
		return 1
	}
	m[k]++
	return 0
}

func (fd *Feed) pruneSettersLocked(now time.Time) {
	for id, s := range fd.setters {
		if !s.until.After(now) {
			delete(fd.setters, id)
		}
	}
}

// mod is the non-negative remainder of a / b.
func mod(a, b int64) int64 {
	r := a % b
	if r < 0 {
		r += b
	}
	return r
}

// Recent returns up to limit decisions of the feed that match accepts
// (all when it is nil), newest first.
func (fd *Feed) Recent(limit int, match func(*FeedEntry) bool) []FeedEntry {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	var out []FeedEntry
	n := fd.next
	if fd.filled {
		n = len(fd.ring)
	}
	for i := 1; i <= n && len(out) < limit; i++ {
		e := &fd.ring[mod(int64(fd.next-i), int64(len(fd.ring)))]
		if match == nil || match(e) {
			out = append(out, *e)
		}
	}
	return out
}

// Find returns the decision about eventID with its features, if the feed
// still holds it.
func (fd *Feed) Find(eventID string) (FeedEntry, bool) {
	found := fd.Recent(1, func(e *FeedEntry) bool { return e.Decision.EventID == eventID })
	if len(found) == 0 {
		return FeedEntry{}, false
	}
	return found[0], true
}

// Series is the decisions per second by verdict over the FeedWindow up to
// a time: element i of each slice is the second Start+i.
type Series struct {
	Start     int64   `json:"start"`
	Allow     []int64 `json:"allow"`
	Challenge []int64 `json:"challenge"`
	Lockout   []int64 `json:"lockout"`
}

// Series returns the decisions per second of the FeedWindow ending at end
// (event time), the second of end included.
func (fd *Feed) Series(end time.Time) Series {
	last := end.Unix()
	first := last - feedSeconds + 1
	s := Series{Start: first, Allow: make([]int64, feedSeconds), Challenge: make([]int64, feedSeconds), Lockout: make([]int64, feedSeconds)}
	fd.mu.Lock()
	defer fd.mu.Unlock()
	for t := first; t <= last; t++ {
		sec := &fd.seconds[mod(t, feedSeconds)]
		if sec.unix != t {
			continue
		}
		i := t - first
		s.Allow[i], s.Challenge[i], s.Lockout[i] = sec.counts[0], sec.counts[1], sec.counts[2]
	}
	return s
}

// Count is one key of a top list with its count.
type Count struct {
	Key   string `json:"key"`
	Label string `json:"label,omitempty"` // the AS organisation of an ASN
	Count int64  `json:"count"`
}

// Top is what fired and failed most over the FeedWindow.
type Top struct {
	Rules    []Count `json:"rules"`
	Networks []Count `json:"networks"` // by failed attempts
	ASNs     []Count `json:"asns"`     // by failed attempts
	// Dropped counts hits left out because a minute's table was full.
	Dropped int64 `json:"dropped"`
}

// Top returns the n rules that fired most and the n networks and ASNs
// with the most failed attempts in the FeedWindow ending at end.
func (fd *Feed) Top(end time.Time, n int) Top {
	lastMinute := end.Unix() - mod(end.Unix(), 60)
	firstMinute := lastMinute - (feedMinutes-1)*60
	rules, networks, asns := map[string]int64{}, map[string]int64{}, map[int]int64{}
	orgs := map[int]string{}
	var top Top
	fd.mu.Lock()
	for i := range fd.minutes {
		m := &fd.minutes[i]
		if m.unix < firstMinute || m.unix > lastMinute || m.rules == nil {
			continue
		}
		for k, c := range m.rules {
			rules[k] += c
		}
		for k, c := range m.networks {
			networks[k] += c
		}
		for k, c := range m.asns {
			asns[k] += c
		}
		for k, o := range m.asOrgs {
			orgs[k] = o
		}
		top.Dropped += m.dropped
	}
	fd.mu.Unlock()
	top.Rules = topCounts(rules, n, func(k string) (string, string) { return k, "" })
	top.Networks = topCounts(networks, n, func(k string) (string, string) { return k, "" })
	top.ASNs = topCounts(asns, n, func(k int) (string, string) { return "AS" + strconv.Itoa(k), orgs[k] })
	return top
}

// topCounts returns the n largest counts, ties by key.
func topCounts[K comparable](m map[K]int64, n int, name func(K) (key, label string)) []Count {
	out := make([]Count, 0, len(m))
	for k, c := range m {
		key, label := name(k)
		out = append(out, Count{Key: key, Label: label, Count: c})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Key < out[j].Key
	})
	return out[:min(n, len(out))]
}

// SetBy returns the event_id of the decision that set a lock, when the
// feed saw it (a lock restored from history or set on another instance
// has none).
func (fd *Feed) SetBy(l schemas.Lock) string {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	s, ok := fd.setters[lockID{l.Scope, l.Key}]
	if !ok || !s.until.Equal(l.Until) {
		return ""
	}
	return s.eventID
}
