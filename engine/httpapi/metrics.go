package httpapi

import (
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/loginrisk/loginrisk/engine"
)

// Metrics counts what the HTTP API did; the counters are read with atomic
// loads, and Metrics is the prometheus.Collector that exports them with
// the request latency histograms
// (loginrisk_http_request_duration_seconds{route,code}).
type Metrics struct {
	AuthFailures atomic.Int64 // 401 and 403 answers
	BacklogFull  atomic.Int64 // 503 answers because the recording backlog was full
	ServerErrors atomic.Int64 // 5xx answers

	// forwards counts requests about users another instance owns, by
	// outcome (forward.go).
	forwards forwardCounters

	latency      *prometheus.HistogramVec
	forwardDesc  *prometheus.Desc
	authDesc     *prometheus.Desc
	backlogDesc  *prometheus.Desc
	serverErrors *prometheus.Desc
}

func newMetrics() *Metrics {
	return &Metrics{
		forwards:    newForwardCounters(),
		forwardDesc: prometheus.NewDesc("loginrisk_http_forwards_total", "Score and user status requests about a user whose partition another instance owns, by outcome: answered (by the owner), or why the answer is local state (unknown-owner, no-address, timeout, unreachable, refused, wrong-instance).", []string{"outcome"}, nil),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "loginrisk_http_request_duration_seconds",
			Help: "Time to answer an HTTP API request, by route (the OpenAPI operationId, not_found or method_not_allowed) and status code.",
			Buckets: []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025,
				0.05, 0.1, 0.25, 1},
		}, []string{"route", "code"}),
		authDesc:     prometheus.NewDesc("loginrisk_http_auth_failures_total", "HTTP requests refused for a missing or unknown token (401) or a role that may not call the route (403).", nil, nil),
		backlogDesc:  prometheus.NewDesc("loginrisk_http_backlog_full_total", "POST /v1/score answers 503 because the engine's recording backlog was full.", nil, nil),
		serverErrors: prometheus.NewDesc("loginrisk_http_server_errors_total", "HTTP answers with a 5xx status.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.latency.Describe(ch)
	ch <- m.authDesc
	ch <- m.backlogDesc
	ch <- m.serverErrors
	ch <- m.forwardDesc
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.latency.Collect(ch)
	ch <- constMetric(m.authDesc, prometheus.CounterValue, float64(m.AuthFailures.Load()))
	ch <- constMetric(m.backlogDesc, prometheus.CounterValue, float64(m.BacklogFull.Load()))
	ch <- constMetric(m.serverErrors, prometheus.CounterValue, float64(m.ServerErrors.Load()))
	for _, o := range forwardOutcomes {
		ch <- constMetric(m.forwardDesc, prometheus.CounterValue, float64(m.forwards.byOutcome[o].Load()), string(o))
	}
}

// Forwards returns the number of requests about users another instance
// owns that ended with outcome.
func (m *Metrics) Forwards(outcome ForwardOutcome) int64 {
	if c, ok := m.forwards.byOutcome[outcome]; ok {
		return c.Load()
	}
	return 0
}

// routeMetrics caches one route's histogram per status code, so observing
// a request neither allocates nor hashes label values.
type routeMetrics struct {
	name   string
	vec    *prometheus.HistogramVec
	byCode [500]atomic.Pointer[observer] // status codes 100..599
}

type observer struct{ prometheus.Observer }

func (m *Metrics) route(name string) *routeMetrics {
	return &routeMetrics{name: name, vec: m.latency}
}

func (rm *routeMetrics) observe(code int, d time.Duration) {
	if code < 100 || code > 599 {
		rm.vec.WithLabelValues(rm.name, strconv.Itoa(code)).Observe(d.Seconds())
		return
	}
	slot := &rm.byCode[code-100]
	o := slot.Load()
	if o == nil {
		o = &observer{rm.vec.WithLabelValues(rm.name, strconv.Itoa(code))}
		slot.Store(o)
	}
	o.Observe(d.Seconds())
}

// engineCollector exports the engine's own counters at scrape time, so
// nothing is counted twice.
type engineCollector struct {
	eng  *engine.Engine
	desc struct {
		events, duplicates, conflicts, rejected, internalErrors, decisions, ruleHits, locksSet, backlog, lockKeys, rulesInfo *prometheus.Desc
		attackMode, attackFailures, attackRateRatio, attackUnknownShare, attackNeverFail                                     *prometheus.Desc
	}
}

func newEngineCollector(eng *engine.Engine) *engineCollector {
	c := &engineCollector{eng: eng}
	c.desc.events = prometheus.NewDesc("loginrisk_events_scored_total", "Events scored (each event_id once, whether by Kafka or HTTP).", nil, nil)
	c.desc.duplicates = prometheus.NewDesc("loginrisk_events_duplicate_total", "Events whose event_id was already scored; they got the earlier decision.", nil, nil)
	c.desc.conflicts = prometheus.NewDesc("loginrisk_events_conflict_total", "Events refused because their event_id was already used for another attempt (409, dead-lettered).", nil, nil)
	c.desc.rejected = prometheus.NewDesc("loginrisk_events_rejected_total", "Kafka messages that could not be scored (dead-lettered).", nil, nil)
	c.desc.internalErrors = prometheus.NewDesc("loginrisk_internal_errors_total", "Events refused because decoding or scoring them panicked (a loginrisk bug; the stack is in the log).", nil, nil)
	c.desc.decisions = prometheus.NewDesc("loginrisk_decisions_total", "Decisions by verdict.", []string{"decision"}, nil)
	c.desc.ruleHits = prometheus.NewDesc("loginrisk_rule_hits_total", "Decisions each active rule contributed to.", []string{"rule"}, nil)
	c.desc.locksSet = prometheus.NewDesc("loginrisk_locks_set_total", "Locks set or extended by lockout decisions.", nil, nil)
	c.desc.backlog = prometheus.NewDesc("loginrisk_recording_backlog", "Events scored over HTTP and queued, not yet published and stored.", nil, nil)
	c.desc.lockKeys = prometheus.NewDesc("loginrisk_lock_table_keys", "Keys in the lock table: active locks and offence records.", nil, nil)
	c.desc.rulesInfo = prometheus.NewDesc("loginrisk_rules_info", "The rule set in use (always 1).", []string{"version"}, nil)
	c.desc.attackMode = prometheus.NewDesc("loginrisk_attack_mode", "1 while the engine is in attack mode (docs/detection.md), else 0.", nil, nil)
	c.desc.attackFailures = prometheus.NewDesc("loginrisk_platform_failures_15m", "Failed logins on the platform in the last 15 minutes of event time.", nil, nil)
	c.desc.attackRateRatio = prometheus.NewDesc("loginrisk_platform_failure_rate_ratio", "Platform failures in 15 minutes over their baseline for the hour of the week.", nil, nil)
	c.desc.attackUnknownShare = prometheus.NewDesc("loginrisk_platform_unknown_user_share", "Share of the last 15 minutes' failures that were unknown_user.", nil, nil)
	c.desc.attackNeverFail = prometheus.NewDesc("loginrisk_platform_never_fail_ratio", "Failures on accounts that never fail, per attempt, over their baseline.", nil, nil)
	return c
}

// Describe implements prometheus.Collector.
func (c *engineCollector) Describe(ch chan<- *prometheus.Desc) {
	d := &c.desc
	for _, desc := range []*prometheus.Desc{d.events, d.duplicates, d.conflicts, d.rejected, d.internalErrors, d.decisions, d.ruleHits, d.locksSet, d.backlog, d.lockKeys, d.rulesInfo,
		d.attackMode, d.attackFailures, d.attackRateRatio, d.attackUnknownShare, d.attackNeverFail} {
		ch <- desc
	}
}

// Collect implements prometheus.Collector.
func (c *engineCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.eng.Metrics()
	d := &c.desc
	counter := prometheus.CounterValue
	ch <- constMetric(d.events, counter, float64(m.EventsTotal.Load()))
	ch <- constMetric(d.duplicates, counter, float64(m.DuplicatesTotal.Load()))
	ch <- constMetric(d.conflicts, counter, float64(m.ConflictsTotal.Load()))
	ch <- constMetric(d.rejected, counter, float64(m.RejectedTotal.Load()))
	ch <- constMetric(d.internalErrors, counter, float64(m.InternalErrors.Load()))
	ch <- constMetric(d.decisions, counter, float64(m.Allow.Load()), "allow")
	ch <- constMetric(d.decisions, counter, float64(m.Challenge.Load()), "challenge")
	ch <- constMetric(d.decisions, counter, float64(m.Lockout.Load()), "lockout")
	for rule, hits := range m.RuleHits() {
		ch <- constMetric(d.ruleHits, counter, float64(hits), rule)
	}
	ch <- constMetric(d.locksSet, counter, float64(m.LocksSet.Load()))
	ch <- constMetric(d.backlog, prometheus.GaugeValue, float64(c.eng.Backlog()))
	ch <- constMetric(d.lockKeys, prometheus.GaugeValue, float64(c.eng.Locks().Len()))
	ch <- constMetric(d.rulesInfo, prometheus.GaugeValue, 1, c.eng.RulesVersion())
	am := c.eng.AttackMode()
	on := 0.0
	if am.On {
		on = 1
	}
	gauge := prometheus.GaugeValue
	ch <- constMetric(d.attackMode, gauge, on)
	ch <- constMetric(d.attackFailures, gauge, float64(am.Failures15m))
	ch <- constMetric(d.attackRateRatio, gauge, am.FailureRateRatio)
	ch <- constMetric(d.attackUnknownShare, gauge, am.UnknownUserShare)
	ch <- constMetric(d.attackNeverFail, gauge, am.NeverFailRatio)
}

// constMetric is prometheus.MustNewConstMetric without the panic: a bad
// metric is reported by the scrape instead.
func constMetric(desc *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) prometheus.Metric {
	m, err := prometheus.NewConstMetric(desc, t, v, labels...)
	if err != nil {
		return prometheus.NewInvalidMetric(desc, err)
	}
	return m
}

// promhttpHandler serves a registry; a collector that fails is logged and
// the rest is still served.
func promhttpHandler(reg *prometheus.Registry, log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      reg,
	})
}
