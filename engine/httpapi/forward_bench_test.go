package httpapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/loginrisk/loginrisk/engine"
	"github.com/loginrisk/loginrisk/engine/testkit"
)

// fixedOwner is a directory in which one instance owns every user: the
// benchmark measures the forward, not the directory (kafkastream's).
type fixedOwner struct {
	self  string
	owner engine.Owner
}

func (d fixedOwner) Owner(string) (engine.Owner, bool) { return d.owner, true }
func (d fixedOwner) Self() string                      { return d.self }

// benchServer is an engine behind the API on a loopback listener, with
// the owners directory owners.
func benchServer(b *testing.B, owners engine.OwnerDirectory) *httptest.Server {
	b.Helper()
	eng, _ := testkit.Engine(b, "", engine.Config{})
	srv, err := New(Config{Engine: eng, Tokens: []Token{{Name: "gateway", Secret: scoreToken, Role: RoleScore}}, Owners: owners})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	b.Cleanup(ts.Close)
	return ts
}

// BenchmarkStatusForward is the latency a forward adds to a user status
// lookup: "local" asks the owner itself, "forwarded" asks another
// instance, which forwards to the owner; both over loopback HTTP with
// kept-alive connections, one request at a time. The difference of the
// two is the added latency (docs/scaling.md).
func BenchmarkStatusForward(b *testing.B) {
	owner := benchServer(b, fixedOwner{self: "owner", owner: engine.Owner{Instance: "owner", Self: true}})
	other := benchServer(b, fixedOwner{self: "other", owner: engine.Owner{Instance: "owner", URL: owner.URL}})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	for _, bc := range []struct {
		name, url string
		answered  string
	}{
		{"local", owner.URL, ""},
		{"forwarded", other.URL, "owner"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req, err := http.NewRequest(http.MethodGet, bc.url+"/v1/users/alice/status", nil)
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+scoreToken)
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || resp.Header.Get(HeaderAnsweredBy) != bc.answered {
					b.Fatalf("status %d, answered by %q, want 200 by %q", resp.StatusCode, resp.Header.Get(HeaderAnsweredBy), bc.answered)
				}
			}
		})
	}
}
