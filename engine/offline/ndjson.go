package offline

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/loginrisk/loginrisk/schemas"
)

// NDJSON is a Source reading one LoginEvent per line. A line that does
// not decode, or that the engine refuses, is reported on the error writer
// as "line N: reason", counted, and skipped: one bad line never stops a
// run.
type NDJSON struct {
	lines   *LineReader
	dec     *schemas.Decoder // interns the user agents of the lines
	errw    io.Writer
	lineNo  int
	Invalid int // lines reported and skipped
}

// NewNDJSON returns a source reading events from r and reporting bad
// lines on errw.
func NewNDJSON(r io.Reader, errw io.Writer) *NDJSON {
	return &NDJSON{lines: NewLineReader(bufio.NewReaderSize(r, 1<<20), schemas.MaxEventBytes), dec: schemas.NewDecoder(), errw: errw}
}

// Next implements Source.
func (s *NDJSON) Next(_ context.Context, ev *schemas.LoginEvent) error {
	for {
		line, err := s.lines.Next()
		s.lineNo++
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		if errors.Is(err, ErrLineTooLong) {
			s.report(fmt.Errorf("message is more than %d bytes", schemas.MaxEventBytes))
			continue
		}
		if err != nil {
			return fmt.Errorf("reading events: %w", err)
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if err := s.dec.Decode(line, ev); err != nil {
			s.report(err)
			continue
		}
		return nil
	}
}

// Reject implements Source: the event of the last line was refused.
func (s *NDJSON) Reject(err error) { s.report(err) }

func (s *NDJSON) report(err error) {
	s.Invalid++
	fmt.Fprintf(s.errw, "line %d: %v\n", s.lineNo, err)
}

// ErrLineTooLong is returned by LineReader.Next for a line longer than
// its bound.
var ErrLineTooLong = errors.New("line too long")

// LineReader yields lines of at most max bytes; a longer line is skipped
// whole and reported as ErrLineTooLong, so one bad line never stops a
// run.
type LineReader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

// NewLineReader returns a LineReader over r for lines of at most max
// bytes.
func NewLineReader(r *bufio.Reader, max int) *LineReader { return &LineReader{r: r, max: max} }

// Next returns the next line, with its newline, valid until the next
// call; io.EOF after the last.
func (l *LineReader) Next() ([]byte, error) {
	l.buf = l.buf[:0]
	tooLong := false
	for {
		chunk, err := l.r.ReadSlice('\n')
		if !tooLong {
			if len(l.buf)+len(chunk) > l.max+1 {
				tooLong = true
				l.buf = l.buf[:0]
			} else if err == nil && len(l.buf) == 0 {
				return chunk, nil // the common case: no copy
			} else {
				l.buf = append(l.buf, chunk...)
			}
		}
		switch {
		case err == nil:
			if tooLong {
				return nil, ErrLineTooLong
			}
			return l.buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if tooLong {
				return nil, ErrLineTooLong
			}
			if len(l.buf) == 0 {
				return nil, io.EOF
			}
			return l.buf, nil
		default:
			return nil, err
		}
	}
}
