package httpapi

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// benchWriter is a ResponseWriter that keeps nothing, so the benchmarks
// measure the handler and not the recorder.
type benchWriter struct {
	header http.Header
	code   int
}

func (w *benchWriter) Header() http.Header         { return w.header }
func (w *benchWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *benchWriter) WriteHeader(code int)        { w.code = code }

// benchEvent appends a LoginEvent for attempt i: 10 000 users over 65 536
// addresses, one attempt in ten a failure.
func benchEvent(buf []byte, i int) []byte {
	buf = append(buf, `{"event_id":"bench-`...)
	buf = strconv.AppendInt(buf, int64(i), 10)
	buf = append(buf, `","occurred_at":"2026-03-02T09:30:00Z","user_id":"user-`...)
	buf = strconv.AppendInt(buf, int64(i%10_000), 10)
	buf = append(buf, `","outcome":"`...)
	if i%10 == 0 {
		buf = append(buf, `failure","failure_reason":"bad_password`...)
	} else {
		buf = append(buf, `success`...)
	}
	buf = append(buf, `","ip":"198.18.`...)
	buf = strconv.AppendInt(buf, int64(i/256%256), 10)
	buf = append(buf, '.')
	buf = strconv.AppendInt(buf, int64(i%256), 10)
	buf = append(buf, `","user_agent":"`+browserUA+`","auth_method":"password"}`...)
	return buf
}

// benchFixture is a fixture whose recording backlog is drained.
func benchFixture(b *testing.B) *fixture {
	f := newFixture(b, fixtureOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.eng.RunRecorder(ctx, time.Second)
	}()
	b.Cleanup(func() { cancel(); <-done })
	return f
}

// benchScorer posts benchEvent bodies to a handler through one request,
// body and writer it reuses, so that a benchmark loop allocates only what
// the handler does. One a goroutine.
type benchScorer struct {
	h      http.Handler
	req    *http.Request
	w      benchWriter
	body   []byte
	reader bytes.Reader
}

func newBenchScorer(h http.Handler) *benchScorer {
	req := httptest.NewRequest("POST", "/v1/score", nil)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+scoreToken)
	return &benchScorer{h: h, req: req, w: benchWriter{header: http.Header{}}}
}

// score posts attempt i and returns the answer's status code.
func (s *benchScorer) score(i int) int {
	s.body = benchEvent(s.body[:0], i)
	s.reader.Reset(s.body)
	s.req.Body = readCloser{&s.reader}
	s.req.ContentLength = int64(len(s.body))
	clear(s.w.header)
	s.h.ServeHTTP(&s.w, s.req)
	return s.w.code
}

func BenchmarkScoreHandler(b *testing.B) {
	f := benchFixture(b)
	s := newBenchScorer(f.srv.Handler())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if code := s.score(i); code != http.StatusOK {
			b.Fatalf("status %d", code)
		}
	}
}

func BenchmarkScoreHandlerParallel(b *testing.B) {
	f := benchFixture(b)
	h := f.srv.Handler()
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		s := newBenchScorer(h)
		for pb.Next() {
			if code := s.score(int(next.Add(1))); code != http.StatusOK {
				b.Errorf("status %d", code)
				return
			}
		}
	})
}

func BenchmarkStatusHandler(b *testing.B) {
	f := benchFixture(b)
	h := f.srv.Handler()
	// A thousand users with history and some locks to report.
	for i := range 1000 {
		f.score(event{id: "status-seed-" + strconv.Itoa(i), user: "user-" + strconv.Itoa(i), ip: "198.18.1." + strconv.Itoa(i%250+1)}, false)
	}
	for i := range 20 {
		f.bruteForce("user-"+strconv.Itoa(i), "198.18.2."+strconv.Itoa(i+1))
	}
	reqs := make([]*http.Request, 1000)
	for i := range reqs {
		reqs[i] = statusRequest("/v1/users/user-" + strconv.Itoa(i) + "/status")
	}
	benchGets(b, h, reqs)
}

// statusRequest is a GET of path with the score role's token.
func statusRequest(path string) *http.Request {
	r := httptest.NewRequest("GET", path, nil)
	r.Header.Set("Authorization", "Bearer "+scoreToken)
	return r
}

// benchGets times h answering the requests in turn, each with 200 OK.
func benchGets(b *testing.B, h http.Handler, reqs []*http.Request) {
	w := &benchWriter{header: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		clear(w.header)
		h.ServeHTTP(w, reqs[i%len(reqs)])
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
