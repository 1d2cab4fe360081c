package main

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/kafkastream"
	"github.com/loginrisk/loginrisk/schemas"
)

// printProgress rewrites the progress line at most twice a second on a
// terminal, and writes one every few seconds into a file or a pipe. Only
// run's goroutine calls it (from produce, then while waiting for the last
// decisions).
func (d *demo) printProgress(now time.Time) {
	last := &d.progressLast
	if !last.line.Due(now) {
		return
	}
	decided := d.decided.Load()
	rate := 0.0
	if !last.at.IsZero() {
		rate = float64(decided-last.decided) / now.Sub(last.at).Seconds()
	}
	last.at, last.decided = now, decided
	last.line.Print(fmt.Sprintf("produced %d · decided %d (%.0f/s) · allow %d · challenge %d · lockout %d · dead-lettered %d",
		d.produced.Load(), decided, rate, d.byKind[0].Load(), d.byKind[1].Load(), d.byKind[2].Load(), d.malformed.Load()))
}

func (d *demo) summary(eng *engine.Engine, stream *kafkastream.Stream) {
	w := tabwriter.NewWriter(d.stdout, 0, 4, 2, ' ', 0)
	total := d.decided.Load()
	pct := func(n int64) string {
		if total == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(total))
	}
	fmt.Fprintf(w, "\nDecisions read back from %s\n", d.cfg.Kafka.DecisionsTopic)
	fmt.Fprintf(w, "decision\tcount\tshare\n")
	for i, kind := range []string{"allow", "challenge", "lockout"} {
		fmt.Fprintf(w, "%s\t%d\t%s\n", kind, d.byKind[i].Load(), pct(d.byKind[i].Load()))
	}
	fmt.Fprintf(w, "total\t%d\t\n", total)
	fmt.Fprintf(w, "dead-lettered (%s)\t%d\tthe malformed events the demo sends on purpose, one every %d\n", d.cfg.Kafka.DLQTopic, stream.Metrics().DeadLetteredTotal.Load(), demoMalformedEvery)
	w.Flush()

	d.mu.Lock()
	rules := make([]string, 0, len(d.byRule))
	for r := range d.byRule {
		rules = append(rules, r)
	}
	sort.Slice(rules, func(i, j int) bool { return d.byRule[rules[i]] > d.byRule[rules[j]] })
	fmt.Fprintf(w, "\nRules that fired (rules version %s)\n", eng.RulesVersion())
	fmt.Fprintf(w, "rule\tdecisions\texample\n")
	for _, r := range rules {
		fmt.Fprintf(w, "%s\t%d\t%s\n", r, d.byRule[r], d.examples[r])
	}
	d.mu.Unlock()
	w.Flush()
	locks := eng.Locks().Active(time.Now())
	byScope := map[schemas.LockScope]int{}
	for _, l := range locks {
		byScope[l.Scope]++
	}
	counts := make([]string, 0, len(schemas.LockScopes()))
	for _, sc := range schemas.LockScopes() {
		counts = append(counts, fmt.Sprintf("%s %d", sc, byScope[sc]))
	}
	fmt.Fprintf(d.stdout, "\nActive locks at the end: %d (%s)\n", len(locks), strings.Join(counts, ", "))
	if d.history != nil {
		dsn := d.cfg.ClickHouse.DSN.String()
		fmt.Fprintf(d.stdout, "\nHistory: %d rows written to ClickHouse (%s). Try:\n", d.history.Metrics().RowsWrittenTotal.Load(), dsn)
		fmt.Fprintf(d.stdout, "  ./bin/loginrisk query top_attacking_ips --clickhouse-dsn %s\n", dsn)
		fmt.Fprintf(d.stdout, "  ./bin/loginrisk query rule_hit_rates --clickhouse-dsn %s\n", dsn)
	} else {
		fmt.Fprintf(d.stdout, "\nHistory: off (no ClickHouse); see the demo's first lines for how to turn it on.\n")
	}
}
