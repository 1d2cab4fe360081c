package httpapi

import (
	"net/http"
	"strconv"
	"testing"
)

// BenchmarkStatusHandlerLocked is a status lookup of users who are
// locked (a brute force from their address each), as the gateway asks
// under attack: the answer carries the locks and the last decision.
func BenchmarkStatusHandlerLocked(b *testing.B) {
	f := benchFixture(b)
	h := f.srv.Handler()
	reqs := make([]*http.Request, 100)
	for i := range reqs {
		user := "locked-" + strconv.Itoa(i)
		f.bruteForce(user, "198.18.3."+strconv.Itoa(i+1))
		reqs[i] = statusRequest("/v1/users/" + user + "/status")
	}
	benchGets(b, h, reqs)
}

// BenchmarkIPStatusHandler is a status lookup of addresses with history.
func BenchmarkIPStatusHandler(b *testing.B) {
	f := benchFixture(b)
	h := f.srv.Handler()
	reqs := make([]*http.Request, 250)
	for i := range reqs {
		ip := "198.18.4." + strconv.Itoa(i+1)
		f.score(event{id: "ip-seed-" + strconv.Itoa(i), user: "user-" + strconv.Itoa(i), ip: ip}, false)
		reqs[i] = statusRequest("/v1/ips/" + ip + "/status")
	}
	benchGets(b, h, reqs)
}
