package kafkastream

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"regexp"
	"sync"

	"github.com/segmentio/kafka-go"
)

// DecisionKey is one key of the MAC that authenticates the decisions
// topic: every decision this process publishes carries an HMAC-SHA-256 of
// its message key and value under the signing key, and the follower
// applies only decisions whose MAC verifies under one of the accepted
// keys (see docs/security.md).
type DecisionKey struct {
	// ID names the key in the HeaderMACKey header, so that a verifier
	// knows which key to try: 1 to 32 characters of [A-Za-z0-9._-].
	ID string
	// Secret is the HMAC key, at least MinDecisionKeyBytes long.
	Secret []byte
}

// MinDecisionKeyBytes is the shortest secret a DecisionKey may have: the
// output size of SHA-256, as RFC 2104 recommends for an HMAC key.
const MinDecisionKeyBytes = 32

// decisionKeyID is the form of a DecisionKey's ID.
var decisionKeyID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)

// Errors of a decision whose MAC does not verify; ErrBadMAC wraps the
// more specific ones.
var (
	// ErrUnsigned: the message carries no MAC header (or no key id).
	ErrUnsigned = errors.New("decision is not signed")
	// ErrBadMAC: the MAC is malformed, does not match the key and value,
	// or names a key that is not accepted.
	ErrBadMAC = errors.New("decision's MAC does not verify")
)

// ValidateDecisionKeys checks a list of keys as kafka.decision_keys: at
// least one, each ID well-formed and unique, each secret long enough.
// Errors name the field by its position.
func ValidateDecisionKeys(keys []DecisionKey) error {
	if len(keys) == 0 {
		return errors.New("kafka.decision_keys: at least one key is required: decisions are signed with the first and verified with any of them (docs/security.md)")
	}
	var errs []error
	seen := make(map[string]int, len(keys))
	for i, k := range keys {
		if !decisionKeyID.MatchString(k.ID) {
			errs = append(errs, fmt.Errorf("kafka.decision_keys[%d].id: %q must be 1 to 32 characters of A-Z a-z 0-9 . _ -", i, k.ID))
		} else if j, dup := seen[k.ID]; dup {
			errs = append(errs, fmt.Errorf("kafka.decision_keys[%d].id: %q is also the id of kafka.decision_keys[%d]", i, k.ID, j))
		} else {
			seen[k.ID] = i
		}
		if len(k.Secret) < MinDecisionKeyBytes {
			errs = append(errs, fmt.Errorf("kafka.decision_keys[%d].secret: %d bytes, at least %d are required (e.g. openssl rand -hex 32)", i, len(k.Secret), MinDecisionKeyBytes))
		}
	}
	return errors.Join(errs...)
}

// signer signs with one key and verifies with several. It is safe for
// concurrent use.
type signer struct {
	domain   string // macDomain or addressMACDomain
	signID   []byte // the signing key's id, shared by every message's header
	accepted map[string][]byte
	pool     sync.Pool // of *macState keyed with the signing key
}

// macState is one signer's reusable HMAC and buffers: handed to the
// hash through an interface, stack buffers would escape, one allocation
// each per decision.
type macState struct {
	h      hash.Hash
	prefix []byte // the domain, then room for the key's length
	sum    [sha256.Size]byte
}

// newSigner returns the signer of decisions.
func newSigner(keys []DecisionKey) (*signer, error) { return newDomainSigner(macDomain, keys) }

// newDomainSigner returns a signer whose MACs cover domain first, so
// that a MAC of one kind of message never verifies as another kind's.
func newDomainSigner(domain string, keys []DecisionKey) (*signer, error) {
	if err := ValidateDecisionKeys(keys); err != nil {
		return nil, err
	}
	s := &signer{domain: domain, signID: []byte(keys[0].ID), accepted: make(map[string][]byte, len(keys))}
	for _, k := range keys {
		s.accepted[k.ID] = bytes.Clone(k.Secret)
	}
	signing := s.accepted[keys[0].ID]
	s.pool.New = func() any { return newMACState(domain, signing) }
	return s, nil
}

// macDomain separates this MAC from any other use of the same secret,
// and versions the layout of the signed bytes.
const macDomain = "loginrisk-decision-v1\x00"

// addressMACDomain is macDomain for the batches of shared addresses
// (addresses.go).
const addressMACDomain = "loginrisk-addresses-v1\x00"

// macHexLen is the length of the MAC header's value: HMAC-SHA-256 in hex.
const macHexLen = 2 * sha256.Size

func newMACState(domain string, secret []byte) *macState {
	st := &macState{h: hmac.New(sha256.New, secret), prefix: make([]byte, len(domain)+8)}
	copy(st.prefix, domain)
	return st
}

// mac computes into st.sum the MAC of key and value: over the domain,
// the message key's length and bytes, then the value. The length makes
// the split between key and value unambiguous, so a MAC cannot be moved
// to another key with the same concatenation.
func (st *macState) mac(key, value []byte) []byte {
	st.h.Reset()
	binary.BigEndian.PutUint64(st.prefix[len(st.prefix)-8:], uint64(len(key)))
	st.h.Write(st.prefix)
	st.h.Write(key)
	st.h.Write(value)
	return st.h.Sum(st.sum[:0])
}

// sign appends to dst the hex MAC of key and value under the signing key.
func (s *signer) sign(dst, key, value []byte) []byte {
	st := s.pool.Get().(*macState)
	dst = hex.AppendEncode(dst, st.mac(key, value))
	s.pool.Put(st)
	return dst
}

// headers returns the two MAC headers of a message whose hex MAC is mac.
func (s *signer) headers(mac []byte) [2]kafka.Header {
	return [2]kafka.Header{{Key: HeaderMACKey, Value: s.signID}, {Key: HeaderMAC, Value: mac}}
}

// verify checks a message's MAC headers against its key and value. A
// header given twice is refused: which copy would count is ambiguous.
func (s *signer) verify(headers []kafka.Header, key, value []byte) error {
	var id, mac []byte
	var ids, macs int
	for _, h := range headers {
		switch h.Key {
		case HeaderMACKey:
			id, ids = h.Value, ids+1
		case HeaderMAC:
			mac, macs = h.Value, macs+1
		}
	}
	if ids == 0 && macs == 0 {
		return ErrUnsigned
	}
	if ids != 1 || macs != 1 {
		return fmt.Errorf("%w: %d %s and %d %s headers, want one each", ErrBadMAC, ids, HeaderMACKey, macs, HeaderMAC)
	}
	secret, ok := s.accepted[string(id)]
	if !ok {
		return fmt.Errorf("%w: key id %.32q is not among kafka.decision_keys", ErrBadMAC, id)
	}
	var got [sha256.Size]byte
	if len(mac) != macHexLen {
		return fmt.Errorf("%w: %s is %d bytes, want %d hex digits", ErrBadMAC, HeaderMAC, len(mac), macHexLen)
	}
	if _, err := hex.Decode(got[:], mac); err != nil {
		return fmt.Errorf("%w: %s is not hex", ErrBadMAC, HeaderMAC)
	}
	if !hmac.Equal(newMACState(s.domain, secret).mac(key, value), got[:]) {
		return fmt.Errorf("%w: wrong MAC for key id %.32q", ErrBadMAC, id)
	}
	return nil
}
