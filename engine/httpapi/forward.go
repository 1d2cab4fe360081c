package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Headers of a request answered with another instance's state
// (docs/scaling.md, "Answering from any instance").
const (
	// HeaderForwardedBy, on a request, names the instance that forwarded
	// it to the user's owner. A request that carries it is answered from
	// local state, never forwarded again: one hop at most.
	HeaderForwardedBy = "Loginrisk-Forwarded-By"
	// HeaderAnsweredBy, on an answer, names the instance whose state
	// answered a forwarded request: the owner of the user's partition.
	HeaderAnsweredBy = "Loginrisk-Answered-By"
	// HeaderOwnerUnreachable, on an answer, says that the user's owner
	// could not answer and the answer is this instance's local state;
	// its value is the reason (ForwardOutcome).
	HeaderOwnerUnreachable = "Loginrisk-Owner-Unreachable"
)

// ForwardOutcome is what became of a request for a user another
// instance owns; all but ForwardAnswered are the values of
// HeaderOwnerUnreachable.
type ForwardOutcome string

// The outcomes of a forwarded request.
const (
	// ForwardAnswered: the owner answered; its answer was passed on.
	ForwardAnswered ForwardOutcome = "answered"
	// ForwardUnknownOwner: no instance is known to own the user's
	// partition (a rebalance under way, or none announced it yet).
	ForwardUnknownOwner ForwardOutcome = "unknown-owner"
	// ForwardNoAddress: the owner announced no HTTP address.
	ForwardNoAddress ForwardOutcome = "no-address"
	// ForwardTimeout: the owner did not answer within the forward timeout.
	ForwardTimeout ForwardOutcome = "timeout"
	// ForwardUnreachable: connecting to the owner or reading its answer
	// failed.
	ForwardUnreachable ForwardOutcome = "unreachable"
	// ForwardRefused: the owner refused the caller's credentials (401 or
	// 403): the instances do not share http.tokens.
	ForwardRefused ForwardOutcome = "refused"
	// ForwardWrongInstance: the address answered as another instance
	// than the owner (a stale or misconfigured http.advertise).
	ForwardWrongInstance ForwardOutcome = "wrong-instance"
)

// forwardOutcomes lists the outcomes, for the metrics.
var forwardOutcomes = []ForwardOutcome{ForwardAnswered, ForwardUnknownOwner, ForwardNoAddress, ForwardTimeout, ForwardUnreachable, ForwardRefused, ForwardWrongInstance}

// maxForwardedAnswer bounds the owner's answer read back: a status or a
// decision is a few KB.
const maxForwardedAnswer = 1 << 20

// DefaultForwardTimeout is the default of Config.ForwardTimeout.
const DefaultForwardTimeout = 200 * time.Millisecond

// forwardCounters counts forwarded requests by outcome.
type forwardCounters struct {
	byOutcome map[ForwardOutcome]*atomic.Int64
}

func newForwardCounters() forwardCounters {
	c := forwardCounters{byOutcome: make(map[ForwardOutcome]*atomic.Int64, len(forwardOutcomes))}
	for _, o := range forwardOutcomes {
		c.byOutcome[o] = new(atomic.Int64)
	}
	return c
}

// newForwardClient is the client that forwards requests to owners: a
// pool of kept-alive connections per owner, and the forward timeout on
// connecting too.
func newForwardClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: timeout,
		},
		// An owner never redirects; following one would send the
		// credentials elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// forward answers a request about userID with its owner's answer when
// another instance owns the user. It returns done = true with the status
// written when the owner answered; otherwise the caller answers from local
// state, and the answer carries HeaderOwnerUnreachable when the owner
// could not answer (HeaderAnsweredBy when this instance is the target of
// a forward). body is the request body (nil for a GET). It never waits
// longer than Config.ForwardTimeout.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, userID string, body []byte) (code int, done bool) {
	if s.owners == nil {
		return 0, false
	}
	if r.Header.Get(HeaderForwardedBy) != "" {
		w.Header().Set(HeaderAnsweredBy, s.owners.Self())
		return 0, false
	}
	owner, ok := s.owners.Owner(userID)
	switch {
	case ok && owner.Self:
		return 0, false
	case !ok:
		return s.fallBack(w, ForwardUnknownOwner, "", nil)
	case owner.URL == "":
		return s.fallBack(w, ForwardNoAddress, owner.Instance, nil)
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ForwardTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, r.Method, owner.URL+r.URL.EscapedPath(), bytes.NewReader(body))
	if err != nil {
		return s.fallBack(w, ForwardUnreachable, owner.Instance, err)
	}
	req.URL.RawQuery = r.URL.RawQuery
	// The caller's own credentials: the owner authenticates and
	// authorizes the caller as this instance did (docs/security.md).
	req.Header.Set("Authorization", r.Header.Get("Authorization"))
	if ct := r.Header.Get("Content-Type"); ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set(HeaderForwardedBy, s.owners.Self())
	resp, err := s.fwd.Do(req)
	if err != nil {
		return s.fallBack(w, transportOutcome(ctx, err), owner.Instance, err)
	}
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxForwardedAnswer+1))
	resp.Body.Close()
	switch {
	case err != nil:
		return s.fallBack(w, transportOutcome(ctx, err), owner.Instance, err)
	case len(answer) > maxForwardedAnswer:
		return s.fallBack(w, ForwardUnreachable, owner.Instance, fmt.Errorf("answer larger than %d bytes", maxForwardedAnswer))
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return s.fallBack(w, ForwardRefused, owner.Instance, fmt.Errorf("owner answered %d: %s", resp.StatusCode, clip(string(answer))))
	case resp.Header.Get(HeaderAnsweredBy) != owner.Instance:
		return s.fallBack(w, ForwardWrongInstance, owner.Instance, fmt.Errorf("%s answered as instance %q", owner.URL, clip(resp.Header.Get(HeaderAnsweredBy))))
	}
	s.metrics.forwards.byOutcome[ForwardAnswered].Add(1)
	h := w.Header()
	h.Set(HeaderAnsweredBy, owner.Instance)
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		h.Set("Retry-After", ra)
	}
	return s.writeJSON(w, resp.StatusCode, answer), true
}

// transportOutcome tells a timeout from another failure to reach the
// owner.
func transportOutcome(ctx context.Context, err error) ForwardOutcome {
	var ne net.Error
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return ForwardTimeout
	}
	return ForwardUnreachable
}

// fallBack marks the answer as this instance's local state because the
// owner could not answer, counts it and logs the cause at debug (a
// counter, not a line per request, is what an operator watches).
func (s *Server) fallBack(w http.ResponseWriter, outcome ForwardOutcome, owner string, err error) (int, bool) {
	s.metrics.forwards.byOutcome[outcome].Add(1)
	w.Header().Set(HeaderOwnerUnreachable, string(outcome))
	if err != nil {
		s.log.Debug("the user's owner could not answer; answering from local state", "owner", owner, "outcome", string(outcome), "err", err)
	}
	return 0, false
}
