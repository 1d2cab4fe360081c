package loadgen

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// Into a file or a pipe the progress bar writes plain lines, at most one
// every progressPlainEvery, and never a carriage return or an escape
// sequence: a CI log or `| tee` gets a few lines, not thousands of redraws.
func TestProgressIntoAPipeWritesPlainLines(t *testing.T) {
	var out bytes.Buffer
	p := NewProgress(&out, "produce", 1000)
	for i := range int64(1000) {
		p.Update(i, i)
	}
	if out.Len() != 0 {
		t.Errorf("wrote %q within %s of the start", out.String(), progressPlainEvery)
	}
	p.line.last = time.Now().Add(-progressPlainEvery) // as if 5 s had passed
	p.Update(500, 500)
	p.Update(501, 501)
	p.Done("produced 1000 events")
	got := out.String()
	if strings.ContainsAny(got, "\r\033") {
		t.Errorf("output has terminal control characters: %q", got)
	}
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "produce [") || !strings.HasPrefix(lines[1], "produced 1000 events (") {
		t.Errorf("lines = %q, want one progress line and the final line", lines)
	}
}
