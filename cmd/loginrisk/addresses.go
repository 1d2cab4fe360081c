package main

import (
	"context"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loginrisk/loginrisk/engine/kafkastream"
)

// shareAddresses starts, with kafka.share_addresses, the publisher of the
// address side of the attempts this instance scores and the follower of
// the other instances' (docs/scaling.md, "Address signals across
// instances"). They stop with ctx, after the consumer drained, so the
// last attempts scored are published. The follower starts where the
// daemon started, before its warm-up, so that no attempt published
// meanwhile is missed.
func (d *daemon) shareAddresses(ctx context.Context) {
	if !d.cfg.Kafka.ShareAddresses {
		return
	}
	stream, eng, log := d.stream, d.core.engine, d.log
	d.bg.Go(func() {
		if err := stream.ShareAddresses(ctx); err != nil {
			log.Warn("publishing the shared addresses stopped", "err", err)
		}
	})
	d.bg.Go(func() {
		if err := stream.FollowAddresses(ctx, d.started, eng.ObserveAddress); err != nil {
			log.Warn("following the shared addresses stopped", "err", err)
		}
	})
}

// addressCollectors export the counters of the shared addresses: the
// attempts published and dropped here, the other instances' applied, their
// batches refused, and the lag of the last batch applied.
func addressCollectors(m *kafkastream.Metrics) []prometheus.Collector {
	counter := func(name, help string, c *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(c.Load()) })
	}
	return []prometheus.Collector{
		counter("loginrisk_addresses_published_total", "Attempts scored here whose address side was published to the addresses topic.", &m.AddressesPublished),
		counter("loginrisk_addresses_dropped_total", "Attempts scored here whose address side was not published (queue full while the broker was slow, or left at shutdown).", &m.AddressesDropped),
		counter("loginrisk_addresses_applied_total", "Other instances' attempts counted here in the address, network and ASN state.", &m.AddressesApplied),
		counter("loginrisk_address_batches_refused_total", "Batches on the addresses topic not applied: unsigned, a MAC that does not verify under kafka.decision_keys, or undecodable.", &m.AddressBatchesRefused),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "loginrisk_address_share_lag_seconds", Help: "Age of the last batch of other instances' attempts when it was applied here, from its broker timestamp."},
			func() float64 { return float64(m.AddressLag.Load()) / 1e9 }),
	}
}
