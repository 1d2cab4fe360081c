package main

import (
	"github.com/loginrisk/loginrisk/features/state"
	"github.com/prometheus/client_golang/prometheus"
)

// stateCollector exports the behavioural state's key counts and what its
// caps did, read at scrape time from state.Store.Stats (atomic loads,
// no shard lock).
type stateCollector struct {
	store                                    *state.Store
	keys, limits, profiles, evicted, refused *prometheus.Desc
	crowds, crowdsEvicted, crowdsRefused     *prometheus.Desc
}

func newStateCollector(store *state.Store) *stateCollector {
	kind := []string{"kind"}
	return &stateCollector{
		store:         store,
		keys:          prometheus.NewDesc("loginrisk_state_keys", "Keys the behavioural state holds, by kind (user, address: IPv4, network: IPv6 /64, device).", kind, nil),
		limits:        prometheus.NewDesc("loginrisk_state_keys_limit", "The cap on the keys of each kind (state.max_*).", kind, nil),
		profiles:      prometheus.NewDesc("loginrisk_state_profiles", "Users with a profile (at least one success).", nil, nil),
		evicted:       prometheus.NewDesc("loginrisk_state_evictions_total", "Keys deleted to make room for a new key at a cap, by kind.", kind, nil),
		refused:       prometheus.NewDesc("loginrisk_state_refused_total", "New keys not tracked because a cap was reached and no key could make room (every candidate had recent failures); their attempts were scored against empty state.", kind, nil),
		crowds:        prometheus.NewDesc("loginrisk_state_crowd_keys", "Keys of the day-and-week crowd state: addresses, /24s, hosting ASNs, failing accounts and account + network pairs.", nil, nil),
		crowdsEvicted: prometheus.NewDesc("loginrisk_state_crowd_evicted_total", "Crowd keys deleted to make room for a new one at their kind's cap (the cap of the keys they stand beside); a crowd with a recent failure is never deleted.", nil, nil),
		crowdsRefused: prometheus.NewDesc("loginrisk_state_crowd_refused_total", "New crowd keys not kept because their kind's cap was reached and no crowd could make room; their attempts read empty crowd counts.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.keys, c.limits, c.profiles, c.evicted, c.refused, c.crowds, c.crowdsEvicted, c.crowdsRefused} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	st, limits := c.store.Stats(), c.store.Caps()
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	for k := range state.NumKeyKinds {
		kind := k.String()
		ch <- constMetric(c.keys, gauge, st.Keys[k], kind)
		ch <- constMetric(c.limits, gauge, limits[k], kind)
		ch <- constMetric(c.evicted, counter, st.Evicted[k], kind)
		ch <- constMetric(c.refused, counter, st.Refused[k], kind)
	}
	ch <- constMetric(c.profiles, gauge, st.Profiles)
	ch <- constMetric(c.crowds, gauge, st.Crowds)
	ch <- constMetric(c.crowdsEvicted, counter, st.CrowdsEvicted)
	ch <- constMetric(c.crowdsRefused, counter, st.CrowdsRefused)
}

// constMetric is prometheus.MustNewConstMetric without the panic: a bad
// metric is reported by the scrape instead.
func constMetric(desc *prometheus.Desc, t prometheus.ValueType, v int64, labels ...string) prometheus.Metric {
	m, err := prometheus.NewConstMetric(desc, t, float64(v), labels...)
	if err != nil {
		return prometheus.NewInvalidMetric(desc, err)
	}
	return m
}
