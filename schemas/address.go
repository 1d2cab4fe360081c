package schemas

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// AddressAttempt is the address side of one scored login attempt, as
// instances share it (docs/scaling.md, "Address signals across
// instances"): enough for another instance to count the attempt in its
// address, network and ASN state, and nothing of the user's but a hash.
type AddressAttempt struct {
	// At is the attempt's occurred_at, to the second.
	At time.Time
	// Failure: the attempt failed; UnknownUser: with failure_reason
	// unknown_user. KnownDevice: a success on a device the user is known
	// to use (a sign of a shared address that only the user's own
	// instance can tell).
	Failure, UnknownUser, KnownDevice bool
	// UserHash is a fixed 64-bit hash of the user key (UserKey), the
	// one the state keys its distinct-user sets by, so that a user
	// counts once in every instance.
	UserHash uint64
	// Addr is the client address (ev.Addr).
	Addr netip.Addr
	// ASN is the address's autonomous system when the state keeps crowd
	// counts for it (a hosting or anonymising network), else 0.
	ASN uint32
}

// addressBatchVersion is the first byte of an encoded batch of
// AddressAttempts: the layout below.
const addressBatchVersion = 1

// AddressAttemptBytes is the size of one encoded AddressAttempt: occurred_at
// in Unix seconds (8 bytes), flags (1), the user hash (8), the address
// as 16 bytes (IPv4 in its IPv4-mapped form) and the ASN (4), big-endian.
const AddressAttemptBytes = 8 + 1 + 8 + 16 + 4

// Flags of an encoded AddressAttempt.
const (
	addressFlagFailure     = 1 << 0
	addressFlagUnknownUser = 1 << 1
	addressFlagIPv4        = 1 << 2
	addressFlagKnownDevice = 1 << 3
	addressFlagsKnown      = addressFlagFailure | addressFlagUnknownUser | addressFlagIPv4 | addressFlagKnownDevice
)

// ErrBadAddressBatch is wrapped by the errors of DecodeAddressAttempts.
var ErrBadAddressBatch = errors.New("malformed address batch")

// AppendAddressBatch appends to dst a batch of attempts in the binary
// layout DecodeAddressAttempts reads: a version byte, then
// AddressAttemptBytes per attempt.
func AppendAddressBatch(dst []byte, attempts []AddressAttempt) []byte {
	dst = append(dst, addressBatchVersion)
	for i := range attempts {
		a := &attempts[i]
		var flags byte
		if a.Failure {
			flags |= addressFlagFailure
		}
		if a.UnknownUser {
			flags |= addressFlagUnknownUser
		}
		if a.Addr.Is4() {
			flags |= addressFlagIPv4
		}
		if a.KnownDevice {
			flags |= addressFlagKnownDevice
		}
		dst = binary.BigEndian.AppendUint64(dst, uint64(a.At.Unix()))
		dst = append(dst, flags)
		dst = binary.BigEndian.AppendUint64(dst, a.UserHash)
		addr := a.Addr.As16()
		dst = append(dst, addr[:]...)
		dst = binary.BigEndian.AppendUint32(dst, a.ASN)
	}
	return dst
}

// DecodeAddressAttempts calls fn for each attempt of an encoded batch,
// in order, and returns the number decoded. A batch of another version,
// of a length that is not whole attempts, or with an attempt that has
// unknown flags, flags that contradict each other or an IPv4 mark on an IPv6 address is refused whole, before fn is
// called: an error wrapping ErrBadAddressBatch.
func DecodeAddressAttempts(b []byte, fn func(*AddressAttempt)) (int, error) {
	if len(b) == 0 || b[0] != addressBatchVersion {
		return 0, fmt.Errorf("%w: not a version %d batch", ErrBadAddressBatch, addressBatchVersion)
	}
	b = b[1:]
	if len(b)%AddressAttemptBytes != 0 {
		return 0, fmt.Errorf("%w: %d bytes are not whole attempts of %d", ErrBadAddressBatch, len(b), AddressAttemptBytes)
	}
	for i := 0; i < len(b); i += AddressAttemptBytes {
		flags := b[i+8]
		if flags&^addressFlagsKnown != 0 || flags&addressFlagUnknownUser != 0 && flags&addressFlagFailure == 0 ||
			flags&addressFlagKnownDevice != 0 && flags&addressFlagFailure != 0 {
			return 0, fmt.Errorf("%w: attempt %d has flags %#x", ErrBadAddressBatch, i/AddressAttemptBytes, flags)
		}
		if flags&addressFlagIPv4 != 0 && !netip.AddrFrom16([16]byte(b[i+17:i+33])).Is4In6() {
			return 0, fmt.Errorf("%w: attempt %d is marked IPv4 but its address is not", ErrBadAddressBatch, i/AddressAttemptBytes)
		}
	}
	n := 0
	var a AddressAttempt
	for ; len(b) > 0; b = b[AddressAttemptBytes:] {
		flags := b[8]
		addr := netip.AddrFrom16([16]byte(b[17:33]))
		if flags&addressFlagIPv4 != 0 {
			addr = addr.Unmap()
		}
		a = AddressAttempt{
			At:          time.Unix(int64(binary.BigEndian.Uint64(b)), 0).UTC(),
			Failure:     flags&addressFlagFailure != 0,
			UnknownUser: flags&addressFlagUnknownUser != 0,
			KnownDevice: flags&addressFlagKnownDevice != 0,
			UserHash:    binary.BigEndian.Uint64(b[9:]),
			Addr:        addr,
			ASN:         binary.BigEndian.Uint32(b[33:]),
		}
		fn(&a)
		n++
	}
	return n, nil
}
