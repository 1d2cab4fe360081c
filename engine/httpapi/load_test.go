package httpapi

import (
	"context"
	"fmt"
	"github.com/loginrisk/loginrisk/engine/loadgen"
	"net/http/httptest"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	body := func(i int) []byte {
		return event{id: fmt.Sprintf("load-%d", i), user: fmt.Sprintf("user-%d", i%50), ip: fmt.Sprintf("198.18.0.%d", i%200+1)}.json()
	}
	tests := []struct {
		name       string
		cfg        loadgen.HTTPConfig
		wantCode   int
		wantErrors bool
	}{
		{name: "score", cfg: loadgen.HTTPConfig{Token: scoreToken, Body: body, Rate: 400, Duration: 250 * time.Millisecond, Concurrency: 8}, wantCode: 200},
		{name: "status", cfg: loadgen.HTTPConfig{Token: readToken, Method: "GET", Path: "/v1/users/user-1/status", Rate: 400, Duration: 250 * time.Millisecond}, wantCode: 200},
		{name: "status per request", cfg: loadgen.HTTPConfig{Token: readToken, Method: "GET", PathOf: func(i int) string { return fmt.Sprintf("/v1/ips/198.18.0.%d/status", i%200+1) }, Rate: 400, Duration: 250 * time.Millisecond}, wantCode: 200},
		{name: "bad path per request", cfg: loadgen.HTTPConfig{Token: readToken, Method: "GET", PathOf: func(i int) string { return "/v1/ips/not-an-ip/status" }, Rate: 200, Duration: 100 * time.Millisecond}, wantCode: 400, wantErrors: true},
		{name: "wrong token", cfg: loadgen.HTTPConfig{Token: "not-a-token-0123456789", Body: body, Rate: 200, Duration: 100 * time.Millisecond}, wantCode: 401, wantErrors: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.eng.Metrics().EventsTotal.Load()
			tc.cfg.URL = f.ts.URL
			res, err := loadgen.HTTP(context.Background(), tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			want := int(float64(tc.cfg.Rate) * tc.cfg.Duration.Seconds())
			if res.Requests != want || res.Codes[tc.wantCode] != want {
				t.Fatalf("requests %d, codes %v; want %d answered %d", res.Requests, res.Codes, want, tc.wantCode)
			}
			if gotErrors := res.Errors == want; gotErrors != tc.wantErrors || (!tc.wantErrors && res.Errors != 0) {
				t.Errorf("errors = %d of %d (first %q)", res.Errors, want, res.FirstErr)
			}
			if !(0 < res.P50 && res.P50 <= res.P99 && res.P99 <= res.P999 && res.P999 <= res.Max) || res.RPS <= 0 {
				t.Errorf("percentiles out of order: %+v", res)
			}
			scored := f.eng.Metrics().EventsTotal.Load() - before
			if wantScored := int64(0); tc.name == "score" {
				wantScored = int64(want)
				if scored != wantScored {
					t.Errorf("engine scored %d events, want %d", scored, wantScored)
				}
			} else if scored != 0 {
				t.Errorf("engine scored %d events, want none", scored)
			}
		})
	}
}

// Over HTTPS (or with a given Transport) the load goes through net/http,
// per-request paths included.
func TestLoadOverTLS(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ts := httptest.NewTLSServer(f.srv.Handler())
	defer ts.Close()
	res, err := loadgen.HTTP(context.Background(), loadgen.HTTPConfig{URL: ts.URL, Token: readToken, Method: "GET", Transport: ts.Client().Transport,
		PathOf: func(i int) string { return fmt.Sprintf("/v1/users/user-%d/status", i%10) }, Rate: 400, Duration: 250 * time.Millisecond, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 100 || res.Codes[200] != 100 || res.Errors != 0 {
		t.Errorf("requests %d, codes %v, errors %d (first %q); want 100 answered 200", res.Requests, res.Codes, res.Errors, res.FirstErr)
	}
}
