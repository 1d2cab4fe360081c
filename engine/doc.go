// Package engine is loginrisk's pipeline core: event → features → rules →
// decision, the lock table and the dedupe of event ids. It does no I/O of
// its own: streams, history and the HTTP API are adapters in sub-packages
// that implement the small interfaces declared in ports.go.
//
// The hot path per event, on the caller's goroutine (one per partition):
// dedupe (event_id) → enrich (cached GeoIP / UA) → read and update the
// behavioural state → active-lock check → evaluate the compiled rules →
// policy and lock escalation → decision. Windows use event time, so a
// replay of the same events gives the same decisions.
package engine
