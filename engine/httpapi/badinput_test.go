package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/engine/testkit"
	"github.com/loginrisk/loginrisk/schemas"
)

// TestScoreBadInputCorpus posts every message of testdata/badinput to
// /v1/score, each followed by a good event: a bad message gets its 4xx and
// an error naming the field, never a 5xx; the v4-mapped address and the
// duplicate are scored; every good event after a bad one is scored.
func TestScoreBadInputCorpus(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	cases := testkit.BadInput(t, testNow)
	scored := int64(0)
	for _, c := range cases {
		t.Run(c.Name(), func(t *testing.T) {
			resp := f.do(request{method: "POST", path: "/v1/score", token: scoreToken, body: c.Message})
			if resp.code >= 500 {
				t.Fatalf("answer %d to bad input: %s", resp.code, resp.body)
			}
			if resp.code != c.HTTPStatus {
				t.Fatalf("answer %d %s, want %d", resp.code, resp.body, c.HTTPStatus)
			}
			switch c.Expect {
			case "reject":
				e := resp.errorJSON(t)
				if e.Field != c.Field {
					t.Errorf("error field %q (%s), want %q", e.Field, e.Error, c.Field)
				}
				want := c.Error
				if resp.code == http.StatusRequestEntityTooLarge {
					want = "the body is larger than" // refused before decoding
				}
				if !strings.Contains(e.Error, want) {
					t.Errorf("error %q does not contain %q", e.Error, want)
				}
			case "score":
				d := decodeDecision(t, resp.body)
				if d.Decision == "" || d.RulesVersion == "" {
					t.Errorf("decision %+v is not a full decision", d)
				}
				scored++
			case "duplicate":
				d := decodeDecision(t, resp.body)
				before := f.eng.Metrics().DuplicatesTotal.Load()
				again := f.do(request{method: "POST", path: "/v1/score", token: scoreToken, body: c.Message})
				if again.code != http.StatusOK || !bytes.Equal(again.body, resp.body) {
					t.Errorf("the same event again: %d %s, want 200 and the first decision %s", again.code, again.body, resp.body)
				}
				if got := f.eng.Metrics().DuplicatesTotal.Load() - before; got != 1 || d.EventID == "" {
					t.Errorf("the second post counted %d duplicates, want 1", got)
				}
				scored++
			default:
				t.Fatalf("unknown expect %q in cases.json", c.Expect)
			}
			// The server is not left in a bad state by the message.
			f.score(event{id: "good-after-" + c.Name(), user: "badinput-user"}, false)
			scored++
		})
	}
	if got := f.eng.Metrics().EventsTotal.Load(); got != scored {
		t.Errorf("the engine scored %d events, want %d (the good ones, the v4-mapped one and the first of the duplicates)", got, scored)
	}
}

// TestScoreMappedAddress checks what the engine does with an IPv4-mapped
// IPv6 address: it is valid, scored, and echoed as sent in the decision.
func TestScoreMappedAddress(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	d := f.score(event{id: "mapped-1", ip: "::ffff:1.2.3.4"}, false)
	if d.IP != "::ffff:1.2.3.4" || d.Decision == "" {
		t.Fatalf("decision %+v, want one for ::ffff:1.2.3.4", d)
	}
	// The counters are kept per address, unmapped: the plain IPv4 form
	// sees the attempt.
	st := f.status("ips/1.2.3.4")
	if st.Counters.Get("ip_attempts_1h") != 1 {
		t.Errorf("status of 1.2.3.4 after an attempt from ::ffff:1.2.3.4: %+v, want ip_attempts_1h 1", st)
	}
	if st.LastDecision == nil || st.LastDecision.EventID != "mapped-1" {
		t.Errorf("last decision of 1.2.3.4 = %+v, want mapped-1", st.LastDecision)
	}
	// Alternating the two forms is one source: five failures, mapped and
	// plain, lock user_ip on the plain form, and both forms are refused.
	var last schemas.Decision
	for i := range 5 {
		ip := "1.2.3.5"
		if i%2 == 0 {
			ip = "::ffff:1.2.3.5"
		}
		last = f.score(event{id: fmt.Sprintf("mapped-bf-%d", i), user: "mallory", ip: ip, outcome: "failure",
			at: testNow.Add(time.Duration(i-5) * time.Minute)}, false)
	}
	if last.Lock == nil || last.Lock.Scope != schemas.ScopeUserIP || last.Lock.Key != "mallory|1.2.3.5" {
		t.Fatalf("fifth failure alternating address forms: lock %+v, want user_ip on mallory|1.2.3.5", last.Lock)
	}
	for _, ip := range []string{"1.2.3.5", "::ffff:1.2.3.5"} {
		if d := f.score(event{id: "mapped-after-" + ip, user: "mallory", ip: ip, outcome: "failure"}, false); d.Decision != schemas.VerdictLockout {
			t.Errorf("attempt from %s while locked: %s, want lockout", ip, d.Decision)
		}
	}
	if st := f.status("ips/1.2.3.5"); len(st.Locks) != 1 {
		t.Errorf("locks of 1.2.3.5 = %+v, want the user_ip lock", st.Locks)
	}
}

func decodeDecision(t *testing.T, body []byte) schemas.Decision {
	t.Helper()
	var d schemas.Decision
	if err := json.Unmarshal(body, &d); err != nil || d.EventID == "" {
		t.Fatalf("answer %s is not a decision (%v)", body, err)
	}
	return d
}
