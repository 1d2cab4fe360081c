package loadgen

import (
	"bytes"
	"testing"

	"github.com/google/pprof/profile"
)

// synthProfile is a CPU profile with one sample per stack (leaf first),
// each of the given nanoseconds.
func synthProfile(t *testing.T, stacks map[string]struct {
	frames []string
	nanos  int64
}) []byte {
	t.Helper()
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		PeriodType: &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:     10_000_000,
	}
	funcs := map[string]*profile.Function{}
	for _, s := range stacks {
		var locs []*profile.Location
		for _, name := range s.frames {
			fn := funcs[name]
			if fn == nil {
				fn = &profile.Function{ID: uint64(len(funcs) + 1), Name: name}
				funcs[name] = fn
				p.Function = append(p.Function, fn)
			}
			loc := &profile.Location{ID: uint64(len(p.Location) + 1), Line: []profile.Line{{Function: fn}}}
			p.Location = append(p.Location, loc)
			locs = append(locs, loc)
		}
		p.Sample = append(p.Sample, &profile.Sample{Location: locs, Value: []int64{1, s.nanos}})
	}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The HTTP split puts each sample where the bench's table says: our code
// under net/http's serverHandler is the handler (net/http's helpers it
// calls included), the rest of a connection's goroutine is net/http, the
// runtime's own stacks are runtime, anything else other, and a sample
// that ended in a system call is the kernel's, outside the user shares.
func TestSplitHTTPProfile(t *testing.T) {
	const (
		serve   = "net/http.(*conn).serve"
		handler = "net/http.serverHandler.ServeHTTP"
		ours    = "github.com/loginrisk/loginrisk/engine/httpapi.(*Server).handleUserStatus"
	)
	data := synthProfile(t, map[string]struct {
		frames []string
		nanos  int64
	}{
		"handler":          {[]string{"runtime.mapaccess1_faststr", ours, "net/http.HandlerFunc.ServeHTTP", handler, serve, "runtime.goexit"}, 40},
		"helper in ours":   {[]string{"net/http.Header.Clone", "net/http.(*response).WriteHeader", ours, handler, serve, "runtime.goexit"}, 10},
		"read request":     {[]string{"net/textproto.(*Reader).ReadLine", "net/http.readRequest", serve, "runtime.goexit"}, 20},
		"routing":          {[]string{"net/http.(*ServeMux).findHandler", "net/http.(*ServeMux).ServeHTTP", handler, serve, "runtime.goexit"}, 10},
		"gc":               {[]string{"runtime.scanObject", "runtime.gcDrain", "runtime.gcBgMarkWorker"}, 10},
		"kafka":            {[]string{"github.com/segmentio/kafka-go.(*Writer).WriteMessages", "runtime.goexit"}, 10},
		"write syscall":    {[]string{"internal/runtime/syscall/linux.Syscall6", "syscall.RawSyscall6", "syscall.Syscall", "net/http.(*response).finishRequest", serve}, 50},
		"futex in runtime": {[]string{"runtime.futex", "runtime.notesleep", "runtime.stopm"}, 50},
	})
	got, ok := splitHTTPProfile(data)
	if !ok {
		t.Fatal("splitHTTPProfile refused the profile")
	}
	// 100 ns outside system calls: handler 50, net/http 30, runtime 10, other 10.
	want := httpSplit{handler: 0.5, netHTTP: 0.3, runtime: 0.1, other: 0.1, kernel: 0.5}
	near := func(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
	if !near(got.handler, want.handler) || !near(got.netHTTP, want.netHTTP) || !near(got.runtime, want.runtime) ||
		!near(got.other, want.other) || !near(got.kernel, want.kernel) {
		t.Errorf("split %+v, want %+v", got, want)
	}
	if _, ok := splitHTTPProfile([]byte("not a profile")); ok {
		t.Error("splitHTTPProfile accepted bytes that are not a profile")
	}
}
