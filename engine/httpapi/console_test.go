package httpapi

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loginrisk/loginrisk/schemas"
)

// TestConsoleFiltersAndSetters checks the console's lists against what the
// fixture did: lock filters, the decision that set a lock, and the
// decision filters by verdict, rule, user and network.
func TestConsoleFiltersAndSetters(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ivan := f.bruteForce("ivan@example.com", "198.51.100.50")
	f.bruteForce("judy@example.com", "203.0.113.9")
	f.score(event{id: "ok-1", user: "kim@example.com", ip: "192.0.2.1"}, false)
	if ivan.Lock == nil {
		t.Fatal("the brute force set no lock")
	}

	var locks struct {
		Total int       `json:"total"`
		Locks []lockRow `json:"locks"`
	}
	f.getJSON("/v1/locks?scope=user_ip&q=IVAN", readToken, &locks)
	if locks.Total != 1 || len(locks.Locks) != 1 || locks.Locks[0].Key != ivan.Lock.Key || locks.Locks[0].SetBy != ivan.EventID {
		t.Errorf("ivan's locks %+v, want his user_ip lock set by %s", locks, ivan.EventID)
	}
	f.getJSON("/v1/locks?limit=1", readToken, &locks)
	if locks.Total != 2 || len(locks.Locks) != 1 {
		t.Errorf("limit 1: total %d, %d listed; want 2 and 1", locks.Total, len(locks.Locks))
	}

	var list struct {
		Feed      bool      `json:"feed"`
		Decisions []feedRow `json:"decisions"`
	}
	tests := []struct {
		name, query string
		want        []string
	}{
		{name: "all", query: "limit=3", want: []string{"ok-1", "bf-judy@example.com-203.0.113.9-4", "bf-judy@example.com-203.0.113.9-3"}},
		{name: "lockouts of ivan", query: "outcome=lockout&user=ivan%40example.com", want: []string{ivan.EventID}},
		{name: "a rule", query: "rule=" + url.QueryEscape(ivan.Lock.Rule) + "&user=ivan%40example.com", want: []string{ivan.EventID}},
		{name: "a network", query: "ip=192.0.2.0%2F24", want: []string{"ok-1"}},
		{name: "an address", query: "ip=192.0.2.1", want: []string{"ok-1"}},
		{name: "another tenant", query: "tenant=acme", want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.getJSON("/v1/console/decisions?"+tc.query, readToken, &list)
			var got []string
			for _, r := range list.Decisions {
				got = append(got, r.Decision.EventID)
			}
			if !list.Feed || len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) || (len(got) > 2 && got[2] != tc.want[2]) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}

	var user subjectView
	f.getJSON("/v1/console/users/kim@example.com", readToken, &user)
	if user.Status == nil || user.Status.LastDecision == nil || user.Status.LastDecision.EventID != "ok-1" ||
		len(user.Contexts.Networks) != 1 || user.Contexts.Networks[0].Value != "192.0.2.0/24" || user.Contexts.Source != "memory" {
		t.Errorf("kim's view %+v: want her last decision ok-1 and 192.0.2.0/24 known from memory", user)
	}
	if user.History.Configured || user.History.Note == "" {
		t.Errorf("without history the view should say so: %+v", user.History)
	}
	var network subjectView
	f.getJSON("/v1/console/ips/198.51.100.0%2F24", readToken, &network)
	if network.Kind != "network" || len(network.Locks) != 1 || network.Locks[0].Key != ivan.Lock.Key || len(network.Recent) != 5 {
		t.Errorf("the network view %+v: want ivan's lock and his 5 attempts", network)
	}
}

// TestConsoleWithoutFeed checks that a server whose engine keeps no feed
// says so and still answers the totals, locks and status.
func TestConsoleWithoutFeed(t *testing.T) {
	f := newFixture(t, fixtureOptions{noFeed: true})
	f.bruteForce("ivan@example.com", "198.51.100.50")
	var live liveView
	f.getJSON("/v1/console/live", readToken, &live)
	if live.Feed || live.Series != nil || live.Totals["events"] != 5 || live.LocksByScope[string(schemas.ScopeUserIP)] != 1 {
		t.Errorf("live without a feed: %+v", live)
	}
	var list struct {
		Feed      bool      `json:"feed"`
		Note      string    `json:"note"`
		Decisions []feedRow `json:"decisions"`
	}
	f.getJSON("/v1/console/decisions", readToken, &list)
	if list.Feed || list.Note == "" || len(list.Decisions) != 0 {
		t.Errorf("decisions without a feed: %+v", list)
	}
	var who whoami
	f.getJSON("/v1/console/whoami", adminToken, &who)
	if who != (whoami{Name: "alice", Role: RoleAdmin}) {
		t.Errorf("whoami %+v", who)
	}
	var user subjectView
	f.getJSON("/v1/console/users/ivan@example.com", readToken, &user)
	if user.Feed || len(user.Recent) != 0 || user.Status == nil || len(user.Status.Locks) != 1 {
		t.Errorf("ivan without a feed: %+v", user)
	}
}

// TestConsoleRulesShowTheLastReload checks the rules view reports hits and
// a broken reload, with its error, while the previous set stays in use.
func TestConsoleRulesShowTheLastReload(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ivan := f.bruteForce("ivan@example.com", "198.51.100.50")
	type rulesView struct {
		Version string        `json:"version"`
		Rules   []consoleRule `json:"rules"`
		Reload  *RulesStatus  `json:"reload"`
	}
	var v rulesView
	f.getJSON("/v1/console/rules", readToken, &v)
	hits := map[string]int64{}
	for _, r := range v.Rules {
		hits[r.ID] = r.HitsWindow
	}
	if v.Reload == nil || !v.Reload.LastReloadSuccessful || hits[ivan.Lock.Rule] != 1 {
		t.Fatalf("rules view %+v: want a successful load and one hit of %s", v, ivan.Lock.Rule)
	}
	if err := os.WriteFile(filepath.Join(f.rulesDir, "broken.yaml"), []byte("rules:\n  - id: broken\n    when: nosuchfeature > 1\n    weight: 10\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if resp := f.do(request{method: "POST", path: "/v1/rules/reload", token: adminToken}); resp.code != 422 {
		t.Fatalf("reloading broken rules: %d %s", resp.code, resp.body)
	}
	version := v.Version
	f.getJSON("/v1/console/rules", readToken, &v)
	if v.Reload.LastReloadSuccessful || !strings.Contains(v.Reload.LastError, "nosuchfeature") || v.Version != version || v.Reload.ReloadFailuresTotal != 1 {
		t.Errorf("after a broken reload: %+v, want the error and version %s still in use", v.Reload, version)
	}
}
