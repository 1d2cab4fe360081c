package loadgen

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// StatusLine is a one-line status that a terminal redraws in place, at
// most every terminalEvery; into a file or a pipe (a CI log, `| tee`) it
// is a plain line every progressPlainEvery instead of thousands of
// redraws. Progress and the demo's progress line use it.
type StatusLine struct {
	w        io.Writer
	terminal bool
	every    time.Duration
	last     time.Time
}

// NewStatusLine returns a status line on w, redrawn at most every
// terminalEvery on a terminal. The first line is due after one period.
func NewStatusLine(w io.Writer, terminalEvery time.Duration) *StatusLine {
	s := &StatusLine{w: w, terminal: isTerminal(w), every: terminalEvery, last: time.Now()}
	if !s.terminal {
		s.every = progressPlainEvery
	}
	return s
}

// Due reports whether a line is due at now; if so, the caller prints it
// (Print) and the next one is due a period later.
func (s *StatusLine) Due(now time.Time) bool {
	if now.Sub(s.last) < s.every {
		return false
	}
	s.last = now
	return true
}

// Print writes line: redrawn over the previous one on a terminal, as a
// line of its own elsewhere.
func (s *StatusLine) Print(line string) {
	if s.terminal {
		fmt.Fprintf(s.w, "\r\033[K%s", line)
		return
	}
	fmt.Fprintln(s.w, line)
}

// Clear erases the line on a terminal (elsewhere there is nothing to
// erase), so that what follows starts on a clean line.
func (s *StatusLine) Clear() {
	if s.terminal {
		fmt.Fprint(s.w, "\r\033[K")
	}
}

// Progress draws a one-line progress bar on a terminal. Into a file or a
// pipe (a CI log, `| tee`) it writes a plain line every
// progressPlainEvery instead of thousands of redraws.
type Progress struct {
	line  *StatusLine
	label string
	total int64
	start time.Time
}

// progressPlainEvery spaces the progress lines written to a non-terminal.
const progressPlainEvery = 5 * time.Second

// NewProgress starts a bar labelled label towards total (bytes, or
// events; 0 or less: no total).
func NewProgress(w io.Writer, label string, total int64) *Progress {
	return &Progress{line: NewStatusLine(w, 100*time.Millisecond), label: label, total: total, start: time.Now()}
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
	if !p.line.Due(now) {
		return
	}
	rate := float64(events) / max(now.Sub(p.start).Seconds(), 1e-3)
	if p.total > 0 {
		frac := min(float64(bytes)/float64(p.total), 1)
		const width = 30
		filled := int(frac * width)
		p.line.Print(fmt.Sprintf("%s [%s%s] %3.0f%% %d events %.0f/s", p.label,
			strings.Repeat("#", filled), strings.Repeat(".", width-filled), frac*100, events, rate))
		return
	}
	p.line.Print(fmt.Sprintf("%s %d events %.0f/s", p.label, events, rate))
}

// Done ends the bar with msg and the time taken; an empty msg only erases
// the bar (a stage that failed says why elsewhere).
func (p *Progress) Done(msg string) {
	p.line.Clear()
	if msg == "" {
		return
	}
	fmt.Fprintf(p.line.w, "%s (%.1fs)\n", msg, time.Since(p.start).Seconds())
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
