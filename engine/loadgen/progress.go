package loadgen

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Progress draws a one-line progress bar on a terminal. Into a file or a
// pipe (a CI log, `| tee`) it writes a plain line every
// progressPlainEvery instead of thousands of redraws.
type Progress struct {
	w        io.Writer
	terminal bool
	label    string
	total    int64
	start    time.Time
	last     time.Time
}

// progressPlainEvery spaces the progress lines written to a non-terminal.
const progressPlainEvery = 5 * time.Second

// NewProgress starts a bar labelled label towards total (bytes, or
// events; 0 or less: no total).
func NewProgress(w io.Writer, label string, total int64) *Progress {
	now := time.Now()
	return &Progress{w: w, terminal: isTerminal(w), label: label, total: total, start: now, last: now}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Update redraws at most ten times a second on a terminal, and writes a
// line every progressPlainEvery elsewhere.
func (p *Progress) Update(events, bytes int64) {
	now := time.Now()
	every := 100 * time.Millisecond
	if !p.terminal {
		every = progressPlainEvery
	}
	if now.Sub(p.last) < every {
		return
	}
	p.last = now
	rate := float64(events) / max(now.Sub(p.start).Seconds(), 1e-3)
	start, end := "\r", ""
	if !p.terminal {
		start, end = "", "\n"
	}
	if p.total > 0 {
		frac := min(float64(bytes)/float64(p.total), 1)
		const width = 30
		filled := int(frac * width)
		fmt.Fprintf(p.w, "%s%s [%s%s] %3.0f%% %d events %.0f/s%s", start, p.label,
			strings.Repeat("#", filled), strings.Repeat(".", width-filled), frac*100, events, rate, end)
		return
	}
	fmt.Fprintf(p.w, "%s%s %d events %.0f/s%s", start, p.label, events, rate, end)
}

// Done ends the bar with msg and the time taken; an empty msg only erases
// the bar (a stage that failed says why elsewhere).
func (p *Progress) Done(msg string) {
	erase := "\r\033[K"
	if !p.terminal {
		erase = ""
	}
	if msg == "" {
		fmt.Fprint(p.w, erase)
		return
	}
	fmt.Fprintf(p.w, "%s%s (%.1fs)\n", erase, msg, time.Since(p.start).Seconds())
}

// WatchProgress redraws a progress bar from count until the returned stop
// is called.
func WatchProgress(stderr io.Writer, label string, total int64, count func() int64) (stop func(msg string)) {
	bar := NewProgress(stderr, label, total)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				n := count()
				bar.Update(n, n)
			}
		}
	})
	return func(msg string) {
		close(done)
		wg.Wait()
		bar.Done(msg)
	}
}
