package testkit

import "context"

// Start runs run in a goroutine on a context derived from ctx, and returns
// stop, which cancels that context, waits for run to return and returns
// its error. A test calls stop once, before it ends.
func Start(ctx context.Context, run func(ctx context.Context) error) (stop func() error) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	return func() error {
		cancel()
		return <-done
	}
}
