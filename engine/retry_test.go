package engine

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Retry calls fn until it succeeds, waiting longer after each failure up
// to Max; when ctx ends it returns fn's last error without another call.
func TestRetry(t *testing.T) {
	errFail := errors.New("fail")
	t.Run("succeeds after failures", func(t *testing.T) {
		var calls []time.Time
		err := Retry(context.Background(), Backoff{Min: 2 * time.Millisecond, Max: 8 * time.Millisecond}, func(attempt int) error {
			calls = append(calls, time.Now())
			if attempt != len(calls) {
				t.Fatalf("attempt %d on call %d", attempt, len(calls))
			}
			if attempt < 5 {
				return errFail
			}
			return nil
		})
		if err != nil || len(calls) != 5 {
			t.Fatalf("err %v after %d calls, want nil after 5", err, len(calls))
		}
		// Waits of at least 2, 4, 8, 8 ms: the backoff doubles up to Max.
		for i, want := range []time.Duration{2, 4, 8, 8} {
			if got := calls[i+1].Sub(calls[i]); got < want*time.Millisecond {
				t.Errorf("wait %d: %s, want at least %s", i+1, got, want*time.Millisecond)
			}
		}
	})
	t.Run("ctx ends", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		err := Retry(ctx, Backoff{Min: time.Hour, Max: time.Hour, Jitter: true}, func(int) error {
			calls++
			cancel()
			return errFail
		})
		if !errors.Is(err, errFail) || calls != 1 {
			t.Fatalf("err %v after %d calls, want the last error after 1", err, calls)
		}
	})
	t.Run("ctx ends while waiting", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		calls := 0
		err := Retry(ctx, Backoff{Min: time.Hour, Max: time.Hour}, func(int) error {
			calls++
			return errFail
		})
		if !errors.Is(err, errFail) || calls != 1 {
			t.Fatalf("err %v after %d calls, want the last error after 1", err, calls)
		}
	})
}

// TestEvery: fn runs again and again until the context ends, and Every
// returns then without another call.
func TestEvery(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	Every(ctx, time.Millisecond, func() {
		calls++
		if calls == 3 {
			cancel()
		}
	})
	if calls != 3 {
		t.Errorf("fn ran %d times, want 3 (it cancels at the third)", calls)
	}
}
