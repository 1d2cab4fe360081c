package faulttest

import (
	"testing"
	"time"
)

// TestBrokerRestart stops the Kafka broker while serve consumes a stream
// of 20 000 events, waits 10 s and starts it again: serve reconnects by
// itself, without a restart, and every event ends up decided and stored
// once.
func TestBrokerRestart(t *testing.T) {
	svc, seed := startFaultTest(t)
	broker, brokers := privateKafka(t)
	const n, rate = 20_000, 1000 // a 20 s stream
	f := newFixture(t, brokers, svc.dsn, serveConfig{})
	broker.ensureUp()
	es := generateEvents(t, n, seed)

	p := f.startServe()
	pp := f.startPaced(es, rate)
	f.waitCommitted(p, n/4, 200*time.Millisecond)
	// The gateway cannot publish while the broker is down: the producer
	// waits (a gateway would buffer), serve is left mid-stream.
	pp.pause.Lock()
	before := f.progress(f.ctx(10 * time.Second))
	stopping := time.Now()
	broker.stop()
	t.Logf("broker stopped (took %s) at %s of %d produced", time.Since(stopping).Round(time.Millisecond), before, pp.produced.Load())
	time.Sleep(10 * time.Second)
	p.checkAlive()
	starting := time.Now()
	broker.start()
	t.Logf("broker started again (took %s), down for %s", time.Since(starting).Round(time.Millisecond), time.Since(stopping).Round(time.Millisecond))
	pp.pause.Unlock()

	pp.wait(t)
	f.waitComplete(p, n, 3*time.Minute)
	for _, l := range f.logLines(`msg="kafka consumer group joined"`) {
		t.Logf("serve: %s", l[indexOr0(l, "msg="):])
	}
	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Errorf("serve exited with %d after SIGTERM (took %s)", code, took)
	}
	if f.starts != 1 {
		t.Errorf("serve was started %d times; it must reconnect by itself", f.starts)
	}
	f.checkComplete(es)
}
