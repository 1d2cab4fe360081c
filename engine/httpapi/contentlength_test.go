package httpapi

import (
	"net/http"
	"strings"
	"testing"
)

// Every JSON answer has a Content-Length, however long, and none is
// chunked: the load client (loadgen's plain-HTTP connection) reads only
// such answers, and a gateway's client need not parse chunks. An answer
// longer than net/http's 2 KiB buffer, which it would chunk, is a 404
// that quotes a long path.
func TestLongAnswersHaveAContentLength(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	for _, n := range []int{10, 3000, 20000} {
		resp, body := f.doRaw(t, request{method: "GET", path: "/no/such/" + strings.Repeat("x", n), token: readToken}.httpRequest(t, f.ts.URL))
		if resp.StatusCode != http.StatusNotFound || len(body) < n {
			t.Fatalf("path of %d bytes: status %d, body of %d bytes", n, resp.StatusCode, len(body))
		}
		if len(resp.TransferEncoding) != 0 || resp.ContentLength != int64(len(body)) {
			t.Errorf("answer of %d bytes: Transfer-Encoding %v, Content-Length %d; want no chunking and the length", len(body), resp.TransferEncoding, resp.ContentLength)
		}
	}
}
