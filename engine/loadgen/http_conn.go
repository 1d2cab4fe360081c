package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// loadConn is one keep-alive HTTP/1.1 connection of a load run over plain
// TCP. It writes each request from a reused buffer and reads only what a
// load run needs of the answer (status code, Content-Length, the body
// discarded), so the generator costs a fraction of net/http's client and
// leaves the CPU to the server it measures. Chunked answers, which this
// API never sends, are refused as errors.
type loadConn struct {
	addr    string // host:port
	host    string // Host header
	timeout time.Duration
	cfg     *HTTPConfig
	conn    net.Conn
	r       *bufio.Reader
	buf     []byte
}

func newLoadConn(u *url.URL, cfg *HTTPConfig) *loadConn {
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	return &loadConn{addr: addr, host: u.Host, timeout: cfg.Timeout, cfg: cfg, buf: make([]byte, 0, 4096)}
}

// do sends request i and returns the answer's status code. A failed
// connection is closed and dialled again by the next request.
func (c *loadConn) do(ctx context.Context, i int) (int, error) {
	if c.conn == nil {
		d := net.Dialer{Timeout: c.timeout}
		conn, err := d.DialContext(ctx, "tcp", c.addr)
		if err != nil {
			return 0, err
		}
		c.conn = conn
		if c.r == nil {
			c.r = bufio.NewReaderSize(conn, 8192)
		} else {
			c.r.Reset(conn)
		}
	}
	code, keep, err := c.roundTrip(i)
	if err != nil || !keep {
		c.close()
	}
	return code, err
}

func (c *loadConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

func (c *loadConn) roundTrip(i int) (code int, keepAlive bool, err error) {
	cfg := c.cfg
	path := cfg.path(i)
	var body []byte
	if cfg.Body != nil {
		body = cfg.Body(i)
	}
	b := append(c.buf[:0], cfg.Method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.host...)
	b = append(b, "\r\n"...)
	if cfg.Token != "" {
		b = append(b, "Authorization: Bearer "...)
		b = append(b, cfg.Token...)
		b = append(b, "\r\n"...)
	}
	if cfg.Body != nil {
		b = append(b, "Content-Type: "...)
		b = append(b, cfg.ContentType...)
		b = append(b, "\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, body...)
	c.buf = b
	if err := c.conn.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, false, err
	}
	if _, err := c.conn.Write(b); err != nil {
		return 0, false, err
	}
	return readLoadAnswer(c.r)
}

var errChunked = errors.New("load: chunked answers are not supported")

// readLoadAnswer reads one HTTP/1.1 answer, discarding its body.
func readLoadAnswer(r *bufio.Reader) (code int, keepAlive bool, err error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, fmt.Errorf("load: malformed status line %q", line)
	}
	code, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, fmt.Errorf("load: malformed status line %q", line)
	}
	keepAlive = line[7] == '1'
	length := -1
	for {
		line, err = r.ReadSlice('\n')
		if err != nil {
			return code, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return code, false, fmt.Errorf("load: malformed header %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "content-length"):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return code, false, fmt.Errorf("load: bad Content-Length %q", value)
			}
		case asciiEqualFold(name, "transfer-encoding"):
			return code, false, errChunked
		case asciiEqualFold(name, "connection"):
			if asciiEqualFold(value, "close") {
				keepAlive = false
			}
		}
	}
	if length < 0 {
		return code, false, errors.New("load: answer without Content-Length")
	}
	if _, err := r.Discard(length); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return code, false, err
	}
	return code, keepAlive, nil
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
