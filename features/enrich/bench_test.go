package enrich

import (
	"fmt"
	"testing"

	"github.com/loginrisk/loginrisk/features/internal/featuretest"
	"github.com/loginrisk/loginrisk/schemas"
)

// BenchmarkEnrichWarm enriches events whose addresses and user agents
// are all cached.
func BenchmarkEnrichWarm(b *testing.B) {
	e := newTestEnricher(b)
	addrs := featuretest.Addrs(b, 4096)
	events := make([]schemas.LoginEvent, len(addrs))
	for i, a := range addrs {
		events[i] = schemas.LoginEvent{
			EventID: fmt.Sprint(i), OccurredAt: t0, UserID: fmt.Sprintf("user-%d", i), Outcome: schemas.OutcomeSuccess,
			IP: a.String(), Addr: a, UserAgent: featuretest.Agents[i%len(featuretest.Agents)],
		}
		if i%2 == 0 {
			events[i].DeviceID = fmt.Sprintf("dev-%d", i)
		}
	}
	var f schemas.Features
	for i := range events {
		e.Enrich(&events[i], &f)
	}
	e.agents.Wait()
	b.ReportAllocs()
	b.ResetTimer()
	cpu, n := featuretest.ProcessCPU(), 0
	for i := 0; b.Loop(); i++ {
		e.Enrich(&events[i%len(events)], &f)
		n++
	}
	featuretest.ReportCPU(b, cpu, n)
}
