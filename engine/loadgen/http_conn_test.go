package loadgen

import (
	"bufio"
	"strings"
	"testing"
)

func TestReadLoadAnswer(t *testing.T) {
	tests := []struct {
		name     string
		answer   string
		wantCode int
		wantKeep bool
		wantErr  string
		rest     string // what must be left unread: the next answer
	}{
		{name: "keep-alive", answer: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", wantCode: 200, wantKeep: true, rest: "NEXT"},
		{name: "header case", answer: "HTTP/1.1 404 Not Found\r\ncontent-LENGTH: 5\r\n\r\nnope!", wantCode: 404, wantKeep: true, rest: "NEXT"},
		{name: "connection close", answer: "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", wantCode: 503, wantKeep: false},
		{name: "http/1.0", answer: "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", wantCode: 200, wantKeep: false},
		{name: "chunked", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", wantCode: 200, wantErr: "chunked"},
		{name: "no length", answer: "HTTP/1.1 200 OK\r\n\r\n", wantCode: 200, wantErr: "without Content-Length"},
		{name: "short body", answer: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", wantCode: 200, wantErr: "unexpected EOF"},
		{name: "garbage", answer: "SSH-2.0-OpenSSH\r\n", wantErr: "malformed status line"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := bufio.NewReader(strings.NewReader(tc.answer + tc.rest))
			code, keep, err := readLoadAnswer(r)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if code != tc.wantCode {
					t.Errorf("code = %d, want %d", code, tc.wantCode)
				}
				return
			}
			if err != nil || code != tc.wantCode || keep != tc.wantKeep {
				t.Fatalf("got %d keep=%v err=%v, want %d keep=%v", code, keep, err, tc.wantCode, tc.wantKeep)
			}
			// Exactly the answer was consumed.
			rest, _ := r.ReadString(0)
			if rest != tc.rest {
				t.Errorf("left %q, want %q", rest, tc.rest)
			}
		})
	}
}
