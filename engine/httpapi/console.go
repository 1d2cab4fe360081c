package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/rules"
	"github.com/loginrisk/loginrisk/schemas"
)

// The console's endpoints: the aggregates and lookups behind the web page
// of ui/ (see docs/console.md). They read the engine's Feed, its lock
// table and status lookups, and, when Config.History is set, the analyst
// query pack in ClickHouse.

// HistoryQuery runs a named query of the analyst query pack
// (schemas/clickhouse/queries) with text parameters and returns its
// columns and rows, each value as text (times in RFC 3339, UTC).
type HistoryQuery func(ctx context.Context, name string, params map[string]string) (columns []string, rows [][]string, err error)

// RulesStatus is the state of the rules source for the console's rules
// view: the outcome of the last reload.
type RulesStatus struct {
	ReloadsTotal        uint64    `json:"reloads_total"`
	ReloadFailuresTotal uint64    `json:"reload_failures_total"`
	LastSuccess         time.Time `json:"last_success"`
	// LastReloadSuccessful is false while the rules folder holds a broken
	// set; LastError then says why.
	LastReloadSuccessful bool   `json:"last_reload_successful"`
	LastError            string `json:"last_error,omitempty"`
}

// Limits of the console's lists.
const (
	consoleTopN          = 10   // rows of each top list of the live view
	consoleSubjectRecent = 50   // recent decisions in a user or address view
	consoleDefaultLimit  = 100  // rows of a list when limit is not given
	consoleMaxLimit      = 5000 // the largest limit accepted
	historyTimeout       = 10 * time.Second
	historyRows          = 200                 // newest rows of a user's or an address's timeline shown
	historyPeriod        = 30 * 24 * time.Hour // how far back a timeline looks
	historyPageRows      = 1000                // rows of one timeline query
	historyMaxPages      = 20                  // queries of one timeline at most
)

// whoami is GET /v1/console/whoami: who the token is and what the server
// can show.
type whoami struct {
	Name    string `json:"name"`
	Role    Role   `json:"role"`
	Feed    bool   `json:"feed"`
	History bool   `json:"history"`
}

func (s *Server) handleWhoami(w http.ResponseWriter, _ *http.Request, caller *credential) int {
	return s.writeValue(w, http.StatusOK, whoami{Name: caller.name, Role: caller.role, Feed: s.eng.Feed() != nil, History: s.cfg.History != nil})
}

// lockRow is one active lock of GET /v1/locks.
type lockRow struct {
	schemas.Lock
	// SetBy is the event_id of the decision that set the lock, when this
	// instance saw it.
	SetBy string `json:"set_by,omitempty"`
}

// parseQuery parses the query string, answering 400 when it is malformed.
func (s *Server) parseQuery(w http.ResponseWriter, r *http.Request) (url.Values, int, bool) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, s.writeError(w, http.StatusBadRequest, "", "malformed query string: "+err.Error()), false
	}
	return q, 0, true
}

// parseListQuery parses the query string of a list and its limit
// parameter (default consoleDefaultLimit), answering 400 when either is
// malformed.
func (s *Server) parseListQuery(w http.ResponseWriter, r *http.Request) (q url.Values, limit, code int, ok bool) {
	q, code, ok = s.parseQuery(w, r)
	if !ok {
		return nil, 0, code, false
	}
	v := q.Get("limit")
	if v == "" {
		return q, consoleDefaultLimit, 0, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > consoleMaxLimit {
		msg := fmt.Sprintf("limit: %q is not a whole number from 1 to %d", clip(v), consoleMaxLimit)
		return nil, 0, s.writeError(w, http.StatusBadRequest, "limit", msg), false
	}
	return q, n, 0, true
}

// handleLocks is GET /v1/locks: the active locks, filtered by scope and a
// part of the key.
func (s *Server) handleLocks(w http.ResponseWriter, r *http.Request, _ *credential) int {
	q, limit, code, ok := s.parseListQuery(w, r)
	if !ok {
		return code
	}
	scope := schemas.LockScope(q.Get("scope"))
	if scope != "" && !scope.Valid() {
		return s.writeError(w, http.StatusBadRequest, "scope", fmt.Sprintf("scope: %q is not one of %s", clip(string(scope)), schemas.LockScopeNames()))
	}
	part := strings.ToLower(q.Get("q"))
	now := s.now()
	feed := s.eng.Feed()
	out := struct {
		Now   time.Time `json:"now"`
		Total int       `json:"total"`
		Locks []lockRow `json:"locks"`
	}{Now: now, Locks: []lockRow{}}
	for _, l := range s.eng.Locks().Active(now) {
		if (scope != "" && l.Scope != scope) || (part != "" && !strings.Contains(strings.ToLower(l.Key), part)) {
			continue
		}
		out.Total++
		if len(out.Locks) < limit {
			row := lockRow{Lock: l}
			if feed != nil {
				row.SetBy = feed.SetBy(l)
			}
			out.Locks = append(out.Locks, row)
		}
	}
	return s.writeValue(w, http.StatusOK, out)
}

// liveView is GET /v1/console/live.
type liveView struct {
	Now          time.Time      `json:"now"`
	RulesVersion string         `json:"rules_version"`
	Feed         bool           `json:"feed"`
	Series       *engine.Series `json:"series,omitempty"`
	Top          *engine.Top    `json:"top,omitempty"`
	// Totals are the engine's counts since it started.
	Totals       map[string]int64 `json:"totals"`
	LocksByScope map[string]int   `json:"locks_by_scope"`
}

// handleLive is GET /v1/console/live: decisions per second by verdict over
// the feed's window, what fired and failed most, and the active locks by
// scope.
func (s *Server) handleLive(w http.ResponseWriter, _ *http.Request, _ *credential) int {
	now := s.now()
	m := s.eng.Metrics()
	v := liveView{
		Now: now, RulesVersion: s.eng.RulesVersion(),
		Totals: map[string]int64{
			"events": m.EventsTotal.Load(), "allow": m.Allow.Load(), "challenge": m.Challenge.Load(),
			"lockout": m.Lockout.Load(), "rejected": m.RejectedTotal.Load(),
		},
		LocksByScope: map[string]int{},
	}
	for _, scope := range schemas.LockScopes() {
		v.LocksByScope[string(scope)] = 0
	}
	for _, l := range s.eng.Locks().Active(now) {
		v.LocksByScope[string(l.Scope)]++
	}
	if feed := s.eng.Feed(); feed != nil {
		series, top := feed.Series(now), feed.Top(now, consoleTopN)
		v.Feed, v.Series, v.Top = true, &series, &top
	}
	return s.writeValue(w, http.StatusOK, v)
}

// feedRow is one decision of a console list, with the features a list
// shows.
type feedRow struct {
	Decision  *schemas.Decision `json:"decision"`
	Login     string            `json:"login"` // success or failure
	TenantID  string            `json:"tenant_id,omitempty"`
	Country   string            `json:"country,omitempty"`
	City      string            `json:"city,omitempty"`
	Network   string            `json:"network,omitempty"`
	ASN       int               `json:"asn,omitempty"`
	ASOrg     string            `json:"as_org,omitempty"`
	DeviceKey string            `json:"device_key,omitempty"`
}

func newFeedRow(e *engine.FeedEntry) feedRow {
	login := string(schemas.OutcomeFailure)
	if e.Features.Success {
		login = string(schemas.OutcomeSuccess)
	}
	f := &e.Features
	return feedRow{Decision: e.Decision, Login: login, TenantID: f.TenantID, Country: f.Country, City: f.City,
		Network: f.Network, ASN: f.ASN, ASOrg: f.ASOrg, DeviceKey: f.DeviceKey}
}

func feedRows(entries []engine.FeedEntry) []feedRow {
	out := make([]feedRow, len(entries))
	for i := range entries {
		out[i] = newFeedRow(&entries[i])
	}
	return out
}

// addrMatcher reads an address or a network (CIDR) and reports whether an
// address text falls in it.
func addrMatcher(v string) (func(ip string) bool, netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(v); err == nil {
		p = p.Masked()
		return func(ip string) bool {
			a, err := schemas.ParseIP(ip)
			return err == nil && p.Contains(a.Unmap())
		}, p, true
	}
	a, err := schemas.ParseIP(v)
	if err != nil {
		return nil, netip.Prefix{}, false
	}
	a = a.Unmap()
	return func(ip string) bool {
		b, err := schemas.ParseIP(ip)
		return err == nil && b.Unmap() == a
	}, netip.PrefixFrom(a, a.BitLen()), true
}

// noFeedNote is what a list says when the engine keeps no feed.
const noFeedNote = "this server keeps no feed of recent decisions (engine.feed_size is 0)"

// handleDecisions is GET /v1/console/decisions: the feed's recent
// decisions, newest first, filtered by verdict, rule, user, tenant and
// address or network.
func (s *Server) handleDecisions(w http.ResponseWriter, r *http.Request, _ *credential) int {
	q, limit, code, ok := s.parseListQuery(w, r)
	if !ok {
		return code
	}
	var match []func(*engine.FeedEntry) bool
	if v := q.Get("outcome"); v != "" {
		verdict := schemas.Verdict(v)
		if verdict != schemas.VerdictAllow && verdict != schemas.VerdictChallenge && verdict != schemas.VerdictLockout {
			return s.writeError(w, http.StatusBadRequest, "outcome", fmt.Sprintf("outcome: %q is not one of allow, challenge, lockout", clip(v)))
		}
		match = append(match, func(e *engine.FeedEntry) bool { return e.Decision.Decision == verdict })
	}
	if rule := q.Get("rule"); rule != "" {
		match = append(match, func(e *engine.FeedEntry) bool {
			return slices.ContainsFunc(e.Decision.Reasons, func(r schemas.Reason) bool { return r.Rule == rule }) ||
				slices.ContainsFunc(e.Decision.Shadow, func(h schemas.ShadowHit) bool { return h.Rule == rule })
		})
	}
	if user := q.Get("user"); user != "" {
		match = append(match, func(e *engine.FeedEntry) bool { return e.Decision.UserID == user })
	}
	if _, ok := q["tenant"]; ok {
		tenant := q.Get("tenant")
		match = append(match, func(e *engine.FeedEntry) bool { return e.Features.TenantID == tenant })
	}
	if v := q.Get("ip"); v != "" {
		in, _, ok := addrMatcher(v)
		if !ok {
			return s.writeError(w, http.StatusBadRequest, "ip", fmt.Sprintf("ip: %q is not an address or a network (CIDR)", clip(v)))
		}
		match = append(match, func(e *engine.FeedEntry) bool { return in(e.Decision.IP) })
	}
	out := struct {
		Feed      bool      `json:"feed"`
		Note      string    `json:"note,omitempty"`
		Decisions []feedRow `json:"decisions"`
	}{Decisions: []feedRow{}}
	feed := s.eng.Feed()
	if feed == nil {
		out.Note = noFeedNote
		return s.writeValue(w, http.StatusOK, out)
	}
	out.Feed = true
	out.Decisions = feedRows(feed.Recent(limit, func(e *engine.FeedEntry) bool {
		for _, m := range match {
			if !m(e) {
				return false
			}
		}
		return true
	}))
	return s.writeValue(w, http.StatusOK, out)
}

// feature is one feature of a decision's detail, named as rules name it,
// with its unit (count, km, second...; empty for flags, names and
// identifiers such as the ASN).
type feature struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
	Unit  string `json:"unit,omitempty"`
}

// featureList lists f's features in the order of the feature catalogue
// (schemas.FeatureCatalogue), by their rule names. The catalogue has no
// error while the rules load (rules.Load checks it).
func featureList(f *schemas.Features) []feature {
	catalogue, _ := schemas.FeatureCatalogue()
	v := reflect.ValueOf(f).Elem()
	out := make([]feature, 0, len(catalogue))
	for _, c := range catalogue {
		out = append(out, feature{Name: c.Name, Value: v.Field(c.Index).Interface(), Unit: c.Unit})
	}
	return out
}

// handleConsoleDecision is GET /v1/console/decisions/{event_id}: a decision
// with its features, while the feed holds it (else the decision alone,
// when the engine still remembers it).
func (s *Server) handleConsoleDecision(w http.ResponseWriter, r *http.Request, _ *credential) int {
	id := r.PathValue("event_id")
	if msg := checkParam(id, schemas.MaxEventIDLen); msg != "" {
		return s.writeError(w, http.StatusBadRequest, "event_id", "event_id: "+msg)
	}
	out := struct {
		Decision *schemas.Decision `json:"decision"`
		Login    string            `json:"login,omitempty"`
		Features []feature         `json:"features"`
	}{Features: []feature{}}
	if feed := s.eng.Feed(); feed != nil {
		if e, ok := feed.Find(id); ok {
			out.Decision, out.Login, out.Features = e.Decision, newFeedRow(&e).Login, featureList(&e.Features)
			return s.writeValue(w, http.StatusOK, out)
		}
	}
	d, ok := s.eng.Decision(id)
	if !ok || d == nil {
		return s.writeError(w, http.StatusNotFound, "event_id", fmt.Sprintf("no decision for event_id %q in recent memory; older decisions are in history", clip(id)))
	}
	out.Decision = d
	return s.writeValue(w, http.StatusOK, out)
}

// contextCount is one known context of a user (a city, a network, a
// device) with the successful logins seen from it.
type contextCount struct {
	Value    string    `json:"value"`
	Count    int       `json:"count"`
	LastSeen time.Time `json:"last_seen"`
}

// contexts are the places a user logged in from successfully.
type contexts struct {
	Source   string         `json:"source"` // "history" or "memory"
	Cities   []contextCount `json:"cities"`
	Networks []contextCount `json:"networks"`
	Devices  []contextCount `json:"devices"`
}

// contextTally builds contexts from successful logins.
type contextTally struct {
	cities, networks, devices map[string]*contextCount
}

func newContextTally() *contextTally {
	return &contextTally{map[string]*contextCount{}, map[string]*contextCount{}, map[string]*contextCount{}}
}

func (c *contextTally) add(at time.Time, city, network, device string) {
	for _, kv := range []struct {
		m map[string]*contextCount
		v string
	}{{c.cities, city}, {c.networks, network}, {c.devices, device}} {
		if kv.v == "" {
			continue
		}
		cc := kv.m[kv.v]
		if cc == nil {
			cc = &contextCount{Value: kv.v}
			kv.m[kv.v] = cc
		}
		cc.Count++
		if at.After(cc.LastSeen) {
			cc.LastSeen = at
		}
	}
}

func (c *contextTally) result(source string) contexts {
	list := func(m map[string]*contextCount) []contextCount {
		out := make([]contextCount, 0, len(m))
		for _, cc := range m {
			out = append(out, *cc)
		}
		slices.SortFunc(out, func(a, b contextCount) int {
			if a.Count != b.Count {
				return b.Count - a.Count
			}
			return strings.Compare(a.Value, b.Value)
		})
		return out
	}
	return contexts{Source: source, Cities: list(c.cities), Networks: list(c.networks), Devices: list(c.devices)}
}

// cityOf is how the console names a place: "City, CC".
func cityOf(country, city string) string {
	switch {
	case city != "" && country != "":
		return city + ", " + country
	case country != "":
		return country
	}
	return city
}

// historyView is a timeline read from ClickHouse through the query pack.
type historyView struct {
	Configured bool       `json:"configured"`
	Query      string     `json:"query,omitempty"`
	Columns    []string   `json:"columns,omitempty"`
	Rows       [][]string `json:"rows,omitempty"`
	Error      string     `json:"error,omitempty"`
	Note       string     `json:"note,omitempty"`
}

// timeline runs a history query for the subject views and keeps its
// newest historyRows rows; each, when set, sees every row read. A failure
// is shown on the page, not answered as an error.
func (s *Server) timeline(ctx context.Context, name string, params map[string]string, each func(cols, row []string)) historyView {
	if s.cfg.History == nil {
		return historyView{Note: "history is not configured (no ClickHouse): this page shows what memory holds"}
	}
	ctx, cancel := context.WithTimeout(ctx, historyTimeout)
	defer cancel()
	// The timelines run in time order from "from", a page of
	// historyPageRows at a time: the newest rows are on the last page,
	// which starts at the second of the previous page's last row.
	params["from"] = s.now().Add(-historyPeriod).UTC().Format(time.RFC3339) // the server's clock, not the query pack's
	params["limit"] = strconv.Itoa(historyPageRows)
	view := historyView{Configured: true, Query: name}
	var rows [][]string
	seen := map[string]bool{} // event_ids of the previous page's last second
	for page := 0; ; page++ {
		cols, got, err := s.cfg.History(ctx, name, params)
		if err != nil {
			s.log.Warn("console: history query failed", "query", name, "err", err)
			view.Error = err.Error()
			return view
		}
		view.Columns = cols
		at, id := slices.Index(cols, "occurred_at"), slices.Index(cols, "event_id")
		for _, r := range got {
			if id < 0 || !seen[r[id]] {
				rows = append(rows, r)
				if each != nil {
					each(cols, r)
				}
			}
		}
		rows = rows[max(len(rows)-historyRows, 0):]
		if len(got) < historyPageRows || at < 0 || id < 0 {
			break
		}
		if page == historyMaxPages-1 {
			view.Note = fmt.Sprintf("more than %d attempts since %s: the newest are not shown; query ClickHouse with loginrisk query %s", historyMaxPages*historyPageRows, params["from"], name)
			break
		}
		last := got[len(got)-1][at]
		clear(seen)
		for _, r := range got {
			if r[at] == last {
				seen[r[id]] = true
			}
		}
		if len(seen) == len(got) {
			view.Note = "a single second holds a whole page of attempts: the newest are not shown"
			break
		}
		params["from"] = last
	}
	slices.Reverse(rows) // newest first
	view.Rows = rows
	return view
}

// subjectView is GET /v1/console/users/{user_id} and
// GET /v1/console/ips/{ip}: what the engine knows of a user, an address
// or a network.
type subjectView struct {
	Kind     string         `json:"kind"` // user, address or network
	Subject  string         `json:"subject"`
	TenantID string         `json:"tenant_id,omitempty"`
	Status   *engine.Status `json:"status,omitempty"`
	// Locks are the active locks on a network's addresses.
	Locks    []schemas.Lock `json:"locks,omitempty"`
	Feed     bool           `json:"feed"`
	Recent   []feedRow      `json:"recent"`
	Contexts contexts       `json:"contexts"`
	History  historyView    `json:"history"`
}

// handleConsoleUser is GET /v1/console/users/{user_id}.
func (s *Server) handleConsoleUser(w http.ResponseWriter, r *http.Request, _ *credential) int {
	userID := r.PathValue("user_id")
	if msg := checkParam(userID, schemas.MaxUserIDLen); msg != "" {
		return s.writeError(w, http.StatusBadRequest, "user_id", "user_id: "+msg)
	}
	q, code, ok := s.parseQuery(w, r)
	if !ok {
		return code
	}
	// A user is a tenant's user: without a tenant, the default tenant's
	// (as GET /v1/users/{user_id}/status).
	tenant := q.Get("tenant")
	if len(tenant) > schemas.MaxTenantIDLen {
		return s.writeError(w, http.StatusBadRequest, "tenant", fmt.Sprintf("tenant: is %d bytes, more than the %d allowed", len(tenant), schemas.MaxTenantIDLen))
	}
	now := s.now()
	st := s.eng.UserStatus(tenant, userID, now)
	v := subjectView{Kind: "user", Subject: userID, TenantID: tenant, Status: &st, Recent: []feedRow{}}
	tally := newContextTally()
	if feed := s.eng.Feed(); feed != nil {
		v.Feed = true
		entries := feed.Recent(consoleSubjectRecent, func(e *engine.FeedEntry) bool {
			return e.Decision.UserID == userID && e.Features.TenantID == tenant
		})
		v.Recent = feedRows(entries)
		for _, e := range entries {
			if e.Features.Success {
				tally.add(e.Decision.OccurredAt, cityOf(e.Features.Country, e.Features.City), e.Features.Network, e.Features.DeviceKey)
			}
		}
	}
	// The known contexts come from every row of the history read (not only
	// the rows shown), else from memory.
	fromHistory, rowsRead := newContextTally(), 0
	v.History = s.timeline(r.Context(), "user_timeline", map[string]string{"user_id": userID, "tenant": tenant}, func(cols, row []string) {
		rowsRead++
		fromHistory.addHistoryRow(cols, row)
	})
	v.Contexts = tally.result("memory")
	if rowsRead > 0 && v.History.Error == "" {
		v.Contexts = fromHistory.result("history")
	}
	return s.writeValue(w, http.StatusOK, v)
}

// addHistoryRow tallies a timeline row (columns cols) when it is a
// successful login.
func (c *contextTally) addHistoryRow(cols, row []string) {
	get := func(name string) string {
		if i := slices.Index(cols, name); i >= 0 && i < len(row) {
			return row[i]
		}
		return ""
	}
	if get("outcome") != string(schemas.OutcomeSuccess) {
		return
	}
	at, _ := time.Parse(time.RFC3339, get("occurred_at"))
	network := get("network")
	if network == "" {
		if a, err := schemas.ParseIP(get("ip")); err == nil {
			bits := 24
			if a.Is6() {
				bits = 64
			}
			p, _ := a.Prefix(bits)
			network = p.String()
		}
	}
	c.add(at, cityOf(get("country"), get("city")), network, get("device_key"))
}

// handleConsoleAddress is GET /v1/console/ips/{ip}: an address, or a
// network in CIDR notation (its slash sent as %2F).
func (s *Server) handleConsoleAddress(w http.ResponseWriter, r *http.Request, _ *credential) int {
	raw := r.PathValue("ip")
	in, prefix, ok := addrMatcher(raw)
	if !ok {
		return s.writeError(w, http.StatusBadRequest, "ip", fmt.Sprintf("ip: %q is not an address or a network (CIDR)", clip(raw)))
	}
	now := s.now()
	v := subjectView{Recent: []feedRow{}}
	if prefix.IsSingleIP() {
		st := s.eng.IPStatus(prefix.Addr(), now)
		v.Kind, v.Subject, v.Status = "address", prefix.Addr().String(), &st
	} else {
		v.Kind, v.Subject, v.Locks = "network", prefix.String(), []schemas.Lock{}
		for _, l := range s.eng.Locks().Active(now) {
			if l.Scope == schemas.ScopeIP || l.Scope == schemas.ScopeNetwork || l.Scope == schemas.ScopeUserIP {
				key := l.Key
				if i := strings.LastIndexByte(key, '|'); i >= 0 {
					key = key[i+1:]
				}
				if lockInPrefix(key, prefix) {
					v.Locks = append(v.Locks, l)
				}
			}
		}
	}
	tally := newContextTally()
	if feed := s.eng.Feed(); feed != nil {
		v.Feed = true
		entries := feed.Recent(consoleSubjectRecent, func(e *engine.FeedEntry) bool { return in(e.Decision.IP) })
		v.Recent = feedRows(entries)
		for _, e := range entries {
			if e.Features.Success {
				tally.add(e.Decision.OccurredAt, cityOf(e.Features.Country, e.Features.City), e.Features.Network, e.Features.DeviceKey)
			}
		}
	}
	v.Contexts = tally.result("memory")
	v.History = s.timeline(r.Context(), "address_timeline", map[string]string{"address": v.Subject}, nil)
	return s.writeValue(w, http.StatusOK, v)
}

// lockInPrefix reports whether an IP lock key (an address, or an IPv6
// /64) lies in p.
func lockInPrefix(key string, p netip.Prefix) bool {
	if k, err := netip.ParsePrefix(key); err == nil {
		return p.Overlaps(k)
	}
	a, err := schemas.ParseIP(key)
	return err == nil && p.Contains(a.Unmap())
}

// consoleRule is one rule of the console's rules view.
type consoleRule struct {
	ruleInfo
	// HitsTotal counts the decisions the rule contributed to since the
	// engine started (shadow rules: 0, see HitsWindow).
	HitsTotal int64 `json:"hits_total"`
	// HitsWindow counts its hits in the feed's window, shadow hits
	// included.
	HitsWindow int64 `json:"hits_window"`
}

// handleConsoleRules is GET /v1/console/rules: the loaded rules with their
// hit counts and the outcome of the last reload.
func (s *Server) handleConsoleRules(w http.ResponseWriter, _ *http.Request, _ *credential) int {
	set := s.eng.Rules()
	hits := s.eng.Metrics().RuleHits()
	window := map[string]int64{}
	if feed := s.eng.Feed(); feed != nil {
		for _, c := range feed.Top(s.now(), len(set.Rules())+1).Rules {
			window[c.Key] = c.Count
		}
	}
	out := struct {
		Version string        `json:"version"`
		Rules   []consoleRule `json:"rules"`
		Reload  *RulesStatus  `json:"reload,omitempty"`
	}{Version: set.Version(), Rules: []consoleRule{}}
	for _, rule := range set.Rules() {
		out.Rules = append(out.Rules, consoleRule{
			ruleInfo: newRuleInfo(rule), HitsTotal: hits[rule.ID], HitsWindow: window[rule.ID],
		})
	}
	if s.cfg.RulesStatus != nil {
		st := s.cfg.RulesStatus()
		out.Reload = &st
	}
	return s.writeValue(w, http.StatusOK, out)
}

// RulesStatusOf reports a rules.Manager's reloads as the console shows
// them.
func RulesStatusOf(m *rules.Manager) func() RulesStatus {
	return func() RulesStatus {
		mt := m.Metrics()
		return RulesStatus{
			ReloadsTotal: mt.ReloadsTotal, ReloadFailuresTotal: mt.ReloadFailuresTotal, LastSuccess: mt.LastSuccess,
			LastReloadSuccessful: mt.LastReloadSuccessful, LastError: m.LastError(),
		}
	}
}
