package faulttest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/schemas"
)

// scaleEvents is how many events TestScaleOutKill produces, and
// scaleRate how many a second: about 16 s of traffic, enough for the
// kill to come mid-stream and the killed instance's partitions to move
// (after the 10 s session timeout) while events still arrive.
const (
	scaleEvents = 24_000
	scaleRate   = 1_500
)

// scaleBounds bounds the divergences from a one-instance replay in
// TestScaleOutKill's events (docs/scaling.md, "Tests with real
// processes"). They are larger, per event, than crashBounds: besides the
// order in which the partitions' events meet at an address, each
// instance's per-address counters count only the users it owns.
var scaleBounds = replayBounds{addressDependent: 4_000, knockOn: 300, movedLocks: 1_000}

// TestScaleOutKill runs three serve processes in one consumer group, each
// with its own HTTP port, on six partitions. Once the group is stable
// with two partitions each, a gateway produces 24 000 events (users with
// attacks mixed in) at a steady rate; when about 40 % have decisions, one
// instance is killed with SIGKILL. Its partitions move to the two
// survivors after the session timeout, and the new owner of each catches
// its users up from history before scoring their next event. At the end:
//
//   - every event is decided and stored once, or redelivered with the
//     same decision byte for byte but decided_at (checkComplete);
//   - every decision and every lock agrees with a one-instance replay of
//     the same events, but for those of rules over state that spans
//     partitions — addresses, networks, attack mode, the population's
//     familiarity — which compareWithReplay names and bounds;
//   - the active locks of each survivor (GET /v1/locks, the replicated
//     lock table) equal the replay's, key and end, but for the keys an
//     address-dependent decision carried;
//   - each partition of the killed instance was caught up by a survivor
//     with the events the killed instance scored.
//
// The time from the assignment to the first scored event of each moved
// partition (the catch-up) is logged.
func TestScaleOutKill(t *testing.T) {
	svc, seed := startFaultTest(t)
	f := newFixture(t, svc.brokers, svc.dsn, serveConfig{SessionTimeout: 10 * time.Second})
	runBinary(f.ctx(time.Minute), t, "migrate", "--config", f.configPath)
	es := generateEvents(t, scaleEvents, seed)
	want := f.replay(es)

	const instances = 3
	procs := make([]*serveProc, instances)
	addrs := make([]string, instances)
	for i := range procs {
		addrs[i] = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		procs[i] = f.startServeLogged(fmt.Sprintf("%s/serve-%d.log", f.dir, i+1), "--http", addrs[i])
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range procs {
				t.Logf("serve %d log (last lines):\n%s", p.n, tailFile(p.logPath, 40))
			}
		}
	})
	f.waitStableGroup(instances)
	owned := make([][]int, instances)
	eventually(t, time.Minute, 100*time.Millisecond, "every serve logging its partitions", nil, func() (bool, string) {
		for i, p := range procs {
			if owned[i] = p.lastPartitions(); len(owned[i]) == 0 {
				return false, fmt.Sprintf("partitions %v", owned)
			}
		}
		return true, ""
	})
	t.Logf("group stable: partitions %v", owned)

	pp := f.startPaced(es, scaleRate)
	victim := procs[1]
	at := int64(scaleEvents * 2 / 5)
	eventually(t, 4*time.Minute, 20*time.Millisecond, fmt.Sprintf("%d decisions before the kill", at), victim, func() (bool, string) {
		got, err := f.topicCount(f.ctx(10*time.Second), f.decisionsTopic)
		return got >= at, fmt.Sprintf("%d decisions of %d events produced (%v)", got, pp.produced.Load(), err)
	})
	moved := victim.lastPartitions()
	victim.kill()
	killed := time.Now()
	t.Logf("SIGKILL serve %d (partitions %v) at %s: %s", victim.n, moved, time.Since(victim.start).Round(time.Millisecond), f.progress(f.ctx(time.Minute)))
	pp.wait(t)
	survivors := []*serveProc{procs[0], procs[2]}
	f.waitComplete(survivors[0], scaleEvents, 4*time.Minute)
	for _, p := range survivors {
		p.checkAlive()
	}

	got := f.checkComplete(es)
	compareWithReplay(t, es, got.last, want, scaleBounds)
	for _, i := range []int{0, 2} {
		f.compareActiveLocks(es, got.last, want, addrs[i], fmt.Sprintf("serve %d", procs[i].n))
	}
	checkCaughtUp(t, moved, killed, survivors)

	for _, p := range survivors {
		if code, took := p.terminate(30 * time.Second); code != 0 {
			t.Errorf("serve %d exited with %d after SIGTERM (took %s)", p.n, code, took)
		}
	}
}

// waitStableGroup waits until the consumer group is stable with members
// members sharing every partition.
func (f *fixture) waitStableGroup(members int) {
	f.t.Helper()
	eventually(f.t, 90*time.Second, 200*time.Millisecond, fmt.Sprintf("a stable group of %d", members), nil, func() (bool, string) {
		resp, err := f.kafka.DescribeGroups(f.ctx(10*time.Second), &kafka.DescribeGroupsRequest{GroupIDs: []string{f.group}})
		if err != nil || len(resp.Groups) != 1 {
			return false, fmt.Sprint(err)
		}
		g := resp.Groups[0]
		busy, assigned := testkit.GroupAssignment(g)
		return g.GroupState == "Stable" && len(g.Members) == members && busy == members && assigned == f.partitions,
			fmt.Sprintf("state %s, %d members, %d with partitions, %d partitions assigned", g.GroupState, len(g.Members), busy, assigned)
	})
}

// partitionsList matches the partitions of a "kafka generation started"
// log line: partitions="[0 1]".
var partitionsList = regexp.MustCompile(`partitions="?\[([0-9 ]*)\]`)

// lastPartitions returns the partitions of the serve's last generation,
// from its log.
func (p *serveProc) lastPartitions() []int {
	lines := p.logLines(`msg="kafka generation started"`)
	if len(lines) == 0 {
		return nil
	}
	m := partitionsList.FindStringSubmatch(lines[len(lines)-1])
	if m == nil {
		return nil
	}
	var out []int
	for _, s := range strings.Fields(m[1]) {
		n, _ := strconv.Atoi(s)
		out = append(out, n)
	}
	return out
}

// logField returns the value of key in a slog text line ("" if absent).
func logField(line, key string) string {
	i := strings.Index(line, " "+key+"=")
	if i < 0 {
		return ""
	}
	v := line[i+len(key)+2:]
	if j := strings.IndexByte(v, ' '); j >= 0 {
		v = v[:j]
	}
	return strings.Trim(v, `"`)
}

// logTime returns the time of a slog text line.
func logTime(line string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, logField(" "+line, "time"))
	return t
}

// checkCaughtUp asserts that every partition the killed instance owned
// was caught up from history by a survivor after the kill, with events
// (the ones the killed instance scored), and logs the gap of each: from
// the kill to the assignment (the session timeout and the rebalance),
// and from the assignment to the partition's first scored event (the
// catch-up).
func checkCaughtUp(t *testing.T, moved []int, killed time.Time, survivors []*serveProc) {
	t.Helper()
	if len(moved) == 0 {
		t.Error("the killed instance owned no partition: the test moved nothing")
	}
	for _, part := range moved {
		var catchUp, first string
		var who *serveProc
		for _, p := range survivors {
			for _, l := range p.logLines(`msg="partition caught up from history"`) {
				if logField(l, "partition") == strconv.Itoa(part) && logTime(l).After(killed) {
					catchUp, who = l, p
				}
			}
		}
		if who == nil {
			t.Errorf("partition %d of the killed instance: no survivor caught it up after the kill", part)
			continue
		}
		for _, l := range who.logLines(`msg="first batch of the partition scored"`) {
			if logField(l, "partition") == strconv.Itoa(part) && logTime(l).After(killed) {
				first = l
			}
		}
		events, _ := strconv.Atoi(logField(catchUp, "events"))
		if events == 0 {
			t.Errorf("partition %d was caught up by serve %d with no event: %s", part, who.n, catchUp)
		}
		t.Logf("partition %d moved to serve %d: assigned %s after the kill; caught up %d events from offset %s in %s; first event scored %s after the assignment",
			part, who.n, logTime(catchUp).Sub(killed).Round(time.Millisecond), events, logField(catchUp, "from_offset"),
			logField(catchUp, "took"), logField(first, "since_assignment"))
	}
}

// compareActiveLocks compares the active locks of a serve (GET /v1/locks
// on addr, the replicated lock table) with those a one-instance replay
// leaves (the latest end of each lock its decisions carried, active at
// the same moment): every key and end must agree, but for the keys that
// an address-dependent decision (ipDependent) carried in either run.
func (f *fixture) compareActiveLocks(es *eventSet, got, want map[string]*schemas.Decision, addr, who string) {
	f.t.Helper()
	t := f.t
	now := time.Now()
	active, err := f.activeLocks(addr)
	if err != nil {
		t.Errorf("%s: %v", who, err)
		return
	}
	excepted := map[lockKey]bool{}
	replayed := map[lockKey]time.Time{}
	for _, ds := range []map[string]*schemas.Decision{got, want} {
		for _, d := range ds {
			if d.Lock != nil && ipDependent(d) {
				excepted[lockKey{d.Lock.Scope, d.Lock.Key}] = true
			}
		}
	}
	for _, d := range want {
		if d.Lock == nil {
			continue
		}
		k := lockKey{d.Lock.Scope, d.Lock.Key}
		if d.Lock.Until.After(replayed[k]) {
			replayed[k] = d.Lock.Until
		}
	}
	var differ []string
	same, exceptions := 0, 0
	check := func(k lockKey, g, w time.Time) {
		switch {
		case g.Equal(w):
			same++
		case excepted[k]:
			exceptions++
		default:
			differ = append(differ, fmt.Sprintf("%s: serve until %s, replay until %s", k, g, w))
		}
	}
	for k, g := range active {
		w := replayed[k]
		if !w.After(now) {
			w = time.Time{}
		}
		check(k, g, w)
	}
	for k, w := range replayed {
		if _, ok := active[k]; !ok && w.After(now.Add(time.Second)) {
			check(k, time.Time{}, w)
		}
	}
	t.Logf("%s: %d active locks; %d agree with replay, key and end; %d differ on keys an address-dependent decision carried", who, len(active), same, exceptions)
	if len(differ) > 0 {
		slices.Sort(differ)
		t.Errorf("%s: %d active locks differ from replay without an address-dependent decision on their key, e.g.\n%s", who, len(differ), strings.Join(first(differ, 10), "\n"))
	}
	if same == 0 {
		t.Errorf("%s: no active lock agrees with replay: the comparison tests nothing", who)
	}
}

// activeLocks reads every active lock of the serve at addr, scope by
// scope (a page holds at most 5 000).
func (f *fixture) activeLocks(addr string) (map[lockKey]time.Time, error) {
	out := map[lockKey]time.Time{}
	for _, scope := range schemas.LockScopes() {
		req, err := http.NewRequestWithContext(f.ctx(30*time.Second), http.MethodGet, "http://"+addr+"/v1/locks?limit=5000&scope="+string(scope), nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+httpToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("GET /v1/locks: %w", err)
		}
		var page struct {
			Total int            `json:"total"`
			Locks []schemas.Lock `json:"locks"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET /v1/locks?scope=%s: status %d: %v", scope, resp.StatusCode, err)
		}
		if page.Total > len(page.Locks) {
			return nil, fmt.Errorf("GET /v1/locks?scope=%s: %d locks, more than a page", scope, page.Total)
		}
		for _, l := range page.Locks {
			out[lockKey{l.Scope, l.Key}] = l.Until
		}
	}
	return out, nil
}

// tailFile returns the last n lines of a file.
func tailFile(path string, n int) string {
	lines := fileLines(path, "")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
