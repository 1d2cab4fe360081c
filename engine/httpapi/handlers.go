package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/rules"
	"github.com/loginrisk/loginrisk/schemas"
)

// handleScore is POST /v1/score: decode and validate the event, score it
// and, unless it is a dry run or a known event_id, queue it for recording.
func (s *Server) handleScore(w http.ResponseWriter, r *http.Request, _ *credential) int {
	if ct := r.Header.Get("Content-Type"); !isJSON(ct) {
		return s.writeError(w, http.StatusUnsupportedMediaType, "", fmt.Sprintf("Content-Type %q is not application/json", ct))
	}
	dryRun := false
	if r.URL.RawQuery != "" {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return s.writeError(w, http.StatusBadRequest, "", "malformed query string: "+err.Error())
		}
		if v, ok := q["dry_run"]; ok {
			if dryRun, err = strconv.ParseBool(v[0]); err != nil {
				return s.writeError(w, http.StatusBadRequest, "dry_run", fmt.Sprintf("dry_run: %q is not true or false", v[0]))
			}
		}
	}
	buf, body, code, ok := s.requestBody(w, r)
	if !ok {
		return code
	}
	defer s.putBuf(buf, body)

	ev := new(schemas.LoginEvent) // kept by the engine: never pooled
	if err := s.eng.Decoder().Decode(body, ev); err != nil {
		return s.writeFieldError(w, http.StatusBadRequest, err)
	}
	if code, done := s.forward(w, r, ev.UserID, body); done {
		return code
	}
	// A place in the recording queue is taken before scoring: when the
	// queue is full the attempt is refused without touching any state, so
	// the client's retry is scored (and recorded) like a new attempt.
	var place engine.Reservation
	if !dryRun {
		var err error
		if place, err = s.eng.Reserve(); err != nil {
			s.metrics.BacklogFull.Add(1)
			w.Header()["Retry-After"] = retryAfter
			return s.writeError(w, http.StatusServiceUnavailable, "",
				fmt.Sprintf("the recording backlog is full (%d events): event %s was not scored; retry later", s.eng.Backlog(), ev.EventID))
		}
	}
	sc, err := s.eng.Score(ev, dryRun)
	if !dryRun && (err != nil || sc.Duplicate) {
		place.Cancel()
	}
	if err != nil {
		var fe *schemas.FieldError
		if errors.As(err, &fe) {
			return s.writeFieldError(w, http.StatusUnprocessableEntity, err)
		}
		if errors.Is(err, engine.ErrEventIDConflict) {
			return s.writeError(w, http.StatusConflict, "event_id", err.Error())
		}
		s.log.Error("scoring an event failed", "event_id", ev.EventID, "err", err)
		return s.writeError(w, http.StatusInternalServerError, "", "scoring failed: "+err.Error())
	}
	if !dryRun && !sc.Duplicate {
		place.Submit(sc.ScoredEvent)
	}
	body, _ = schemas.EncodeDecision(body[:0], sc.Decision)
	return s.writeJSON(w, http.StatusOK, body)
}

func (s *Server) tooLarge(w http.ResponseWriter) int {
	return s.writeError(w, http.StatusRequestEntityTooLarge, "", fmt.Sprintf("the body is larger than %d bytes", s.cfg.MaxBodyBytes))
}

// writeFieldError answers code with a *schemas.FieldError's field.
func (s *Server) writeFieldError(w http.ResponseWriter, code int, err error) int {
	var fe *schemas.FieldError
	field := ""
	if errors.As(err, &fe) {
		field = fe.Field
	}
	return s.writeError(w, code, field, err.Error())
}

// isJSON reports whether a Content-Type is application/json, with at most a
// charset=utf-8 parameter.
func isJSON(contentType string) bool {
	if contentType == "application/json" {
		return true
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil || mediaType != "application/json" {
		return false
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return false
		}
	}
	return true
}

// requestBody reads r's body, at most MaxBodyBytes, into a pooled buffer.
// When it cannot (too large: 413; a read error: 400) it answers itself and
// returns ok false with the answer's code. Otherwise hand buf and body back
// with putBuf once body is no longer used.
func (s *Server) requestBody(w http.ResponseWriter, r *http.Request) (buf *[]byte, body []byte, code int, ok bool) {
	if r.ContentLength > s.cfg.MaxBodyBytes {
		return nil, nil, s.tooLarge(w), false
	}
	buf = s.getBuf()
	body, tooLarge, err := readBody(r.Body, *buf, s.cfg.MaxBodyBytes)
	switch {
	case tooLarge:
		s.putBuf(buf, body)
		return nil, nil, s.tooLarge(w), false
	case err != nil:
		s.putBuf(buf, body)
		return nil, nil, s.writeError(w, http.StatusBadRequest, "", "reading the body: "+err.Error()), false
	}
	return buf, body, 0, true
}

// readBody appends body to buf, reading at most limit+1 bytes; tooLarge
// reports that the body is longer than limit.
func readBody(body io.Reader, buf []byte, limit int64) (out []byte, tooLarge bool, err error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		room := cap(buf) - len(buf)
		if left := limit + 1 - int64(len(buf)); int64(room) > left {
			room = int(left)
		}
		n, err := body.Read(buf[len(buf) : len(buf)+room])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return buf, true, nil
		}
		if err == io.EOF {
			return buf, false, nil
		}
		if err != nil {
			return buf, false, err
		}
	}
}

// handleUserStatus is GET /v1/users/{user_id}/status[?tenant=T].
func (s *Server) handleUserStatus(w http.ResponseWriter, r *http.Request, _ *credential) int {
	userID := r.PathValue("user_id")
	if msg := checkParam(userID, schemas.MaxUserIDLen); msg != "" {
		return s.writeError(w, http.StatusBadRequest, "user_id", "user_id: "+msg)
	}
	tenant, msg := tenantParam(r)
	if msg != "" {
		return s.writeError(w, http.StatusBadRequest, "tenant", "tenant: "+msg)
	}
	if code, done := s.forward(w, r, userID, nil); done {
		return code
	}
	st := s.eng.UserStatus(tenant, userID, s.now())
	return s.writeStatus(w, &st)
}

// tenantParam returns the query parameter tenant (a user's tenant_id; ""
// for the default tenant), or what is wrong with it.
func tenantParam(r *http.Request) (tenant, msg string) {
	if r.URL.RawQuery == "" { // the gateway's usual lookup: no map to parse into
		return "", ""
	}
	values, ok := r.URL.Query()["tenant"]
	switch {
	case !ok:
		return "", ""
	case len(values) > 1:
		return "", "is given more than once"
	case values[0] == "":
		return "", "" // the default tenant, said explicitly
	}
	return values[0], checkParam(values[0], schemas.MaxTenantIDLen)
}

// writeStatus answers 200 with a status.
func (s *Server) writeStatus(w http.ResponseWriter, st *engine.Status) int {
	buf := s.getBuf()
	out, err := appendStatus(*buf, st)
	defer s.putBuf(buf, out)
	if err != nil {
		s.log.Error("encoding a status", "err", err)
		return s.writeError(w, http.StatusInternalServerError, "", "encoding the answer failed")
	}
	return s.writeJSON(w, http.StatusOK, out)
}

// handleIPStatus is GET /v1/ips/{ip}/status.
func (s *Server) handleIPStatus(w http.ResponseWriter, r *http.Request, _ *credential) int {
	ip := r.PathValue("ip")
	addr, err := schemas.ParseIP(ip)
	if err != nil {
		return s.writeError(w, http.StatusBadRequest, "ip", fmt.Sprintf("ip: %q is not an IP address", clip(ip)))
	}
	st := s.eng.IPStatus(addr, s.now())
	return s.writeStatus(w, &st)
}

// handleDecision is GET /v1/decisions/{event_id}.
func (s *Server) handleDecision(w http.ResponseWriter, r *http.Request, _ *credential) int {
	id := r.PathValue("event_id")
	if msg := checkParam(id, schemas.MaxEventIDLen); msg != "" {
		return s.writeError(w, http.StatusBadRequest, "event_id", "event_id: "+msg)
	}
	d, ok := s.eng.Decision(id)
	if !ok || d == nil {
		memory := "in recent memory"
		if n := s.cfg.RecentDecisions; n > 0 {
			memory = fmt.Sprintf("in recent memory (the last %d events)", n)
		}
		return s.writeError(w, http.StatusNotFound, "event_id", fmt.Sprintf("no decision for event_id %q %s; older decisions are in history", clip(id), memory))
	}
	buf := s.getBuf()
	out, _ := schemas.EncodeDecision(*buf, d)
	defer s.putBuf(buf, out)
	return s.writeJSON(w, http.StatusOK, out)
}

// liftTimeout bounds recording a lift, which outlives a client that hangs up.
const liftTimeout = 15 * time.Second

// handleLift is DELETE /v1/locks/{scope}/{key}.
func (s *Server) handleLift(w http.ResponseWriter, r *http.Request, caller *credential) int {
	scope := schemas.LockScope(r.PathValue("scope"))
	if !scope.Valid() {
		return s.writeError(w, http.StatusBadRequest, "scope", fmt.Sprintf("scope: %q is not one of %s", clip(string(scope)), schemas.LockScopeNames()))
	}
	key := r.PathValue("key")
	if msg := checkParam(key, 1024); msg != "" {
		return s.writeError(w, http.StatusBadRequest, "key", "key: "+msg)
	}
	tenant, msg := tenantParam(r)
	if msg == "" && tenant != "" && !scope.HasUser() {
		msg = fmt.Sprintf("a %s lock names no user, so it has no tenant", scope)
	}
	if msg != "" {
		return s.writeError(w, http.StatusBadRequest, "tenant", "tenant: "+msg)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), liftTimeout)
	defer cancel()
	d, err := s.eng.Lift(ctx, scope, tenant, key, caller.name, s.now())
	switch {
	case errors.Is(err, engine.ErrBadLockKey):
		want := "a non-empty key"
		switch scope {
		case schemas.ScopeUserIP:
			want = `"user|ip" (the | may be sent as %7C)`
		case schemas.ScopeNetwork:
			want = "an IPv4 /24 or IPv6 /64 in CIDR form, such as 203.0.113.0/24"
		}
		return s.writeError(w, http.StatusBadRequest, "key", fmt.Sprintf("key: %q is not a %s lock key; want %s", clip(key), scope, want))
	case errors.Is(err, engine.ErrNoSuchLock):
		where := ""
		if tenant != "" {
			where = fmt.Sprintf(" in tenant %q", clip(tenant))
		}
		return s.writeError(w, http.StatusNotFound, "", fmt.Sprintf("no active %s lock on %q%s", scope, clip(key), where))
	case err != nil:
		s.log.Error("lifting a lock failed: the lift could not be recorded", "scope", string(scope), "tenant_id", tenant, "key", key, "actor", caller.name, "err", err)
		w.Header()["Retry-After"] = retryAfter
		return s.writeError(w, http.StatusServiceUnavailable, "",
			"the lift could not be recorded, so the lock stays on every instance; retry later: "+err.Error())
	}
	s.log.Info("lock lifted", "scope", string(scope), "tenant_id", tenant, "key", key, "actor", caller.name, "event_id", d.EventID)
	buf := s.getBuf()
	out, _ := schemas.EncodeDecision(*buf, d)
	defer s.putBuf(buf, out)
	return s.writeJSON(w, http.StatusOK, out)
}

// ruleInfo is one rule in GET /v1/rules.
type ruleInfo struct {
	ID          string `json:"id"`
	Mode        string `json:"mode"`
	Weight      int    `json:"weight"`
	Action      string `json:"action,omitempty"`
	Scope       string `json:"scope,omitempty"`
	Description string `json:"description,omitempty"`
}

// ruleSet is the answer of GET /v1/rules.
type ruleSet struct {
	Version string     `json:"version"`
	Rules   []ruleInfo `json:"rules"`
}

// handleRules is GET /v1/rules.
func (s *Server) handleRules(w http.ResponseWriter, _ *http.Request, _ *credential) int {
	set := s.eng.Rules()
	out := ruleSet{Version: set.Version(), Rules: []ruleInfo{}}
	for _, rule := range set.Rules() {
		out.Rules = append(out.Rules, newRuleInfo(rule))
	}
	return s.writeValue(w, http.StatusOK, out)
}

// handleAttackMode answers GET /v1/attack-mode: the engine's attack mode
// and its signals.
func (s *Server) handleAttackMode(w http.ResponseWriter, _ *http.Request, _ *credential) int {
	return s.writeValue(w, http.StatusOK, s.eng.AttackMode())
}

// newRuleInfo describes a loaded rule.
func newRuleInfo(rule *rules.Rule) ruleInfo {
	return ruleInfo{
		ID: rule.ID, Mode: string(rule.Mode), Weight: rule.Weight,
		Action: string(rule.Action), Scope: string(rule.Scope), Description: rule.Description,
	}
}

// handleReload is POST /v1/rules/reload.
func (s *Server) handleReload(w http.ResponseWriter, _ *http.Request, caller *credential) int {
	if s.cfg.Reload == nil {
		return s.writeError(w, http.StatusNotImplemented, "", "this server has no reloadable rules source")
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	previous := s.eng.RulesVersion()
	if err := s.cfg.Reload(); err != nil {
		s.log.Warn("rules reload failed; keeping the previous rules", "actor", caller.name, "rules_version", previous, "err", err)
		return s.writeError(w, http.StatusUnprocessableEntity, "", "the rules did not load; version "+previous+" stays in use: "+err.Error())
	}
	version := s.eng.RulesVersion()
	s.log.Info("rules reloaded", "actor", caller.name, "rules_version", version, "previous_version", previous)
	return s.writeValue(w, http.StatusOK, struct {
		Version         string `json:"version"`
		PreviousVersion string `json:"previous_version"`
	}{version, previous})
}

var healthy = []byte(`{"status":"ok"}`)

// handleHealthz is GET /healthz: alive while it answers.
func (s *Server) handleHealthz(w http.ResponseWriter, _ *http.Request, _ *credential) int {
	return s.writeJSON(w, http.StatusOK, healthy)
}

// checkResult is one readiness check in GET /readyz.
type checkResult struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// handleReadyz is GET /readyz: every check runs at once, each bounded by
// CheckTimeout (a check that ignores its context is reported as timed out,
// not waited for); 503 when any fails. Anyone sees each check's name and
// status; a check's error (a broker's or ClickHouse's address, a server's
// message) only a caller with a read or admin token, and the debug log.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request, caller *credential) int {
	type outcome struct {
		i   int
		err error
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.CheckTimeout)
	defer cancel()
	outcomes := make(chan outcome, len(s.cfg.Ready)) // buffered: a late check never blocks
	for i, c := range s.cfg.Ready {
		go func() { outcomes <- outcome{i, c.Fn(ctx)} }()
	}
	results := make([]checkResult, len(s.cfg.Ready))
	for i, c := range s.cfg.Ready {
		results[i] = checkResult{Name: c.Name, Status: "error", Error: fmt.Sprintf("no answer within %s", s.cfg.CheckTimeout)}
	}
	// The grace lets a check that honours ctx report its own error.
	deadline := time.NewTimer(s.cfg.CheckTimeout + 100*time.Millisecond)
	defer deadline.Stop()
wait:
	for range s.cfg.Ready {
		select {
		case o := <-outcomes:
			results[o.i].Status, results[o.i].Error = "ok", ""
			if o.err != nil {
				results[o.i].Status, results[o.i].Error = "error", o.err.Error()
			}
		case <-deadline.C:
			break wait
		}
	}
	status, code := "ok", http.StatusOK
	details := caller != nil && caller.roles&readers != 0
	for i, res := range results {
		if res.Status != "ok" {
			status, code = "unavailable", http.StatusServiceUnavailable
			s.log.Debug("readiness check failed", "check", res.Name, "err", res.Error)
		}
		if !details {
			results[i].Error = ""
		}
	}
	return s.writeValue(w, code, struct {
		Status string        `json:"status"`
		Checks []checkResult `json:"checks"`
	}{status, results})
}

// handleMetrics is GET /metrics.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request, _ *credential) int {
	rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
	s.metricsHandler.ServeHTTP(rec, r)
	return rec.code
}

// statusRecorder remembers the status code a wrapped handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// checkParam returns what is wrong with a path parameter, or "".
func checkParam(v string, maxLen int) string {
	if v == "" {
		return "is required"
	}
	if len(v) > maxLen {
		return fmt.Sprintf("is %d bytes, more than the %d allowed", len(v), maxLen)
	}
	if !utf8.ValidString(v) {
		return "is not valid UTF-8"
	}
	for i, c := range v {
		if unicode.IsControl(c) {
			return fmt.Sprintf("has a control character %s at byte %d", strconv.QuoteRune(c), i)
		}
	}
	return ""
}

// clip shortens a value quoted in an error message as the event
// decoder's errors do (schemas.Clip).
func clip(s string) string { return schemas.Clip(s) }
