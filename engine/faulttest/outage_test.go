package faulttest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestHistoryOutage stops ClickHouse for 30 s while serve consumes a
// stream of 20 000 events, then starts it again. While it is down the
// consumer stops advancing (no offset is committed, at most one batch per
// partition is decided ahead of the history), serve's memory stays
// bounded and it reports not ready; afterwards every event is stored
// once and decided, and serve exits cleanly.
func TestHistoryOutage(t *testing.T) {
	svc, seed := startFaultTest(t)
	ch, dsn := privateClickHouse(t)
	const (
		n         = 20_000
		rate      = 800 // events a second: the stream lasts 25 s
		maxBatch  = 200
		maxBuffer = 1000
		outage    = 30 * time.Second
	)
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	f := newFixture(t, svc.brokers, dsn, serveConfig{MaxBatch: maxBatch, BatchSize: 500, MaxBuffer: maxBuffer, HTTPAddr: httpAddr})
	ch.ensureUp()
	es := generateEvents(t, n, seed)

	p := f.startServe()
	pp := f.startPaced(es, rate)
	eventually(t, 2*time.Minute, 200*time.Millisecond, "a quarter of the stream stored", p, func() (bool, string) {
		rows := f.historyRows(f.ctx(10 * time.Second))
		return rows >= n/4, fmt.Sprintf("%d history rows", rows)
	})
	ready := newReadiness(t, httpAddr)
	ready.expect(t, http.StatusOK, "before the outage")
	baseline, err := p.rssBytes()
	if err != nil {
		t.Fatal(err)
	}
	before := f.progress(f.ctx(10 * time.Second))

	ch.stop()
	down := time.Now()
	t.Logf("ClickHouse stopped at %s; serve RSS %d MiB", before, baseline>>20)
	var (
		peak                       = baseline
		frozenCommitted            int64
		notReady                   bool
		samples                    int
		committedMoved             bool
		lastCommitted, lastDecided int64
	)
	for time.Since(down) < outage {
		time.Sleep(250 * time.Millisecond)
		p.checkAlive()
		if rss, err := p.rssBytes(); err == nil {
			peak = max(peak, rss)
		}
		samples++
		if samples%4 != 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		committed, err1 := f.committedTotal(ctx)
		decided, err2 := f.topicCount(ctx, f.decisionsTopic)
		cancel()
		if err1 != nil || err2 != nil {
			t.Fatalf("reading offsets during the outage: %v %v", err1, err2)
		}
		// Inserts in flight when the server stopped may still commit in
		// the first seconds; from then on nothing may.
		if time.Since(down) < 3*time.Second {
			frozenCommitted = committed
		} else if committed != frozenCommitted {
			committedMoved = true
		}
		lastCommitted, lastDecided = committed, decided
		if ready.wired && !notReady {
			if code, body, err := ready.get(); err == nil && code == http.StatusServiceUnavailable {
				notReady = true
				t.Logf("GET /readyz %s into the outage: %d %s", time.Since(down).Round(time.Second), code, body)
			}
		}
	}
	if ready.wired && !notReady {
		t.Errorf("GET /readyz never answered %d while ClickHouse was down", http.StatusServiceUnavailable)
	}
	produced := pp.produced.Load()
	t.Logf("after %s down: produced %d, decisions published %d, offsets committed %d (%d behind the stream), serve RSS peak %d MiB (baseline %d MiB)",
		outage, produced, lastDecided, lastCommitted, produced-lastCommitted, peak>>20, baseline>>20)
	if committedMoved {
		t.Errorf("offsets were committed while ClickHouse was down (from %d to %d)", frozenCommitted, lastCommitted)
	}
	if lastCommitted >= produced {
		t.Errorf("the consumer kept up with the stream while ClickHouse was down (%d committed of %d produced)", lastCommitted, produced)
	}
	if ahead := lastDecided - lastCommitted; ahead > int64(partitions*maxBatch) {
		t.Errorf("%d decisions published beyond the committed offsets; back-pressure allows at most one batch per partition (%d)", ahead, partitions*maxBatch)
	}
	// A row costs about 1.5 KiB plus strings in the writer's buffer, a
	// decided event a few KiB more while its batch waits; 64 MiB above the
	// baseline is ample for max_buffer rows and one batch per partition,
	// and far below what buffering the stream's backlog would take as Go
	// heap grows to twice its live size.
	bound := baseline + 64<<20 + int64(maxBuffer+partitions*maxBatch)*16<<10
	if peak > bound || peak > 400<<20 {
		t.Errorf("serve RSS reached %d MiB while ClickHouse was down; bound %d MiB (baseline %d MiB)", peak>>20, min(bound, 400<<20)>>20, baseline>>20)
	}
	if !ready.wired && len(f.logLines(`msg="history insert failing; retrying"`)) == 0 {
		t.Error(`serve did not log "history insert failing; retrying" while ClickHouse was down`)
	}

	ch.start()
	t.Logf("ClickHouse back after %s", time.Since(down).Round(time.Millisecond))
	eventually(t, 90*time.Second, time.Second, "ready again after the outage", p, func() (bool, string) {
		if !ready.wired {
			return len(f.logLines(`msg="history inserts recovered"`)) > 0, "no \"history inserts recovered\" in the serve log"
		}
		code, body, err := ready.get()
		return code == http.StatusOK, fmt.Sprintf("GET /readyz: %d %s %v", code, body, err)
	})
	if line, err := f.lastLine(`msg="history inserts recovered"`); err == nil {
		t.Logf("serve: %s", line[indexOr0(line, "msg="):])
	}
	pp.wait(t)
	f.waitComplete(p, n, 3*time.Minute)
	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Errorf("serve exited with %d after SIGTERM (took %s)", code, took)
	}
	f.checkComplete(es)
}

// readiness probes serve's GET /readyz. Until the HTTP API is wired into
// serve (cmd/loginrisk/httpserver.go), nothing listens: wired is false and
// the tests fall back on the history writer's log lines.
type readiness struct {
	url   string
	wired bool
}

func newReadiness(t *testing.T, addr string) *readiness {
	t.Helper()
	r := &readiness{url: "http://" + addr + "/readyz"}
	for range 10 {
		if _, _, err := r.get(); err == nil {
			r.wired = true
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !r.wired {
		t.Logf("nothing answers on %s: the HTTP API is not wired into serve yet; readiness is checked from the history writer's log instead", addr)
	}
	return r
}

func (r *readiness) get() (int, string, error) {
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(r.url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, strings.TrimSpace(string(body)), nil
}

// expect checks GET /readyz's status when the API is wired, and reports
// whether it matched (always false when not wired).
func (r *readiness) expect(t *testing.T, want int, when string) bool {
	t.Helper()
	if !r.wired {
		return false
	}
	code, body, err := r.get()
	if err != nil || code != want {
		t.Errorf("GET /readyz %s: %d %s (%v); want %d", when, code, body, err, want)
		return false
	}
	t.Logf("GET /readyz %s: %d %s", when, code, body)
	return true
}
