package httpapi

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadBody(t *testing.T) {
	const limit = 10
	tests := []struct {
		name         string
		body         string
		capacity     int
		oneByte      bool
		wantTooLarge bool
	}{
		{name: "empty", body: "", capacity: 0},
		{name: "short", body: "abc", capacity: 2},
		{name: "exactly the limit", body: strings.Repeat("x", limit), capacity: 4},
		{name: "one over the limit", body: strings.Repeat("x", limit+1), capacity: 4, wantTooLarge: true},
		{name: "far over the limit", body: strings.Repeat("x", 1000), capacity: 64, wantTooLarge: true},
		{name: "exactly the limit, one byte at a time", body: strings.Repeat("y", limit), capacity: 0, oneByte: true},
		{name: "over the limit, one byte at a time", body: strings.Repeat("y", limit+5), capacity: 0, oneByte: true, wantTooLarge: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r io.Reader = strings.NewReader(tc.body)
			if tc.oneByte {
				r = iotest.OneByteReader(r)
			}
			out, tooLarge, err := readBody(r, make([]byte, 0, tc.capacity), limit)
			if err != nil {
				t.Fatal(err)
			}
			if tooLarge != tc.wantTooLarge {
				t.Fatalf("tooLarge = %v, want %v", tooLarge, tc.wantTooLarge)
			}
			if len(out) > limit+1 {
				t.Errorf("read %d bytes, more than limit+1", len(out))
			}
			if !tooLarge && string(out) != tc.body {
				t.Errorf("read %q, want %q", out, tc.body)
			}
		})
	}
	boom := errors.New("connection reset")
	if _, _, err := readBody(iotest.ErrReader(boom), nil, limit); !errors.Is(err, boom) {
		t.Errorf("a read error: %v, want it returned", err)
	}
}

// TestScoreChunkedTooLarge sends a body without Content-Length, so the
// limit is found while reading.
func TestScoreChunkedTooLarge(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	tests := []struct {
		name string
		body []byte
		want int
	}{
		{name: "small chunked event", body: event{id: "chunked-1"}.json(), want: 200},
		{name: "large chunked body", body: bytes.Repeat([]byte(" "), 65<<10), want: 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A reader of unknown length makes the client send chunks.
			req, err := http.NewRequest("POST", f.ts.URL+"/v1/score", io.MultiReader(bytes.NewReader(tc.body)))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+scoreToken)
			resp, data := f.doRaw(t, req)
			if req.ContentLength != 0 || resp.StatusCode != tc.want {
				t.Fatalf("Content-Length %d: got %d %s, want %d", req.ContentLength, resp.StatusCode, data, tc.want)
			}
		})
	}
}
