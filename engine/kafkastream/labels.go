package kafkastream

import (
	"context"
	"runtime/pprof"
)

// ProfileLabel is the key of the profiler label that names the part of
// the Kafka path a goroutine works for: "consume" (a partition worker,
// which scores its batches), "fetch" (its fetcher), "record" (its
// recorder: decisions published, offsets committed), "follow
// decisions", "follow shared addresses", "share addresses" and
// "instances". The goroutines a part starts inherit it; the Transport's
// connection goroutines, which encode the requests and decode the
// responses of every part, carry the label of the part that opened the
// connection. A CPU profile of serve (loginrisk bench --cpuprofile)
// splits by it: go tool pprof -tags, or -tagfocus kafka=fetch.
const ProfileLabel = "kafka"

// label sets ProfileLabel to part on the calling goroutine; the function
// it returns restores the labels of ctx.
func label(ctx context.Context, part string) (restore func()) {
	pprof.SetGoroutineLabels(pprof.WithLabels(ctx, pprof.Labels(ProfileLabel, part)))
	return func() { pprof.SetGoroutineLabels(ctx) }
}
