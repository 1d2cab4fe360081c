package schemas

// RedactPasswordFP returns the message data (one encoded LoginEvent, as
// it came from Kafka or HTTP, valid or not) without its password_fp, for
// copies the engine keeps of messages it refused (the dead-letter topic):
// the fingerprint is never written anywhere.
//
// It walks the top-level members of the JSON object and leaves out every
// member whose key names password_fp the way Decode matches keys (exactly,
// escaped, or case-insensitively). The rest of the message keeps its
// bytes. Where the walk cannot go on (malformed JSON, not an object, a
// value nested deeper than Decode's fast path reads), a password_fp could
// hide in what follows, so the message is cut there: kept is the clean
// prefix. cut reports that the copy is not the whole message without its
// password_fp (the caller says so, e.g. in a dead-letter header). A
// message without a password_fp comes back as data itself, cut false.
func RedactPasswordFP(data []byte) (redacted []byte, cut bool) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return nil, len(data) > 0
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		if skipSpace(data, i+1) != len(data) {
			return data[:i+1], true
		}
		return data, false
	}
	var out []byte // nil until a member is left out
	kept := 0      // data[:kept] is in out (or, while out is nil, clean)
	// prev is where the member before the one being read ends (before
	// its ',' and the whitespace around it): a member left out takes the
	// bytes from there to its own end, so its ',' goes with it.
	prev := -1
	first := true // no member kept so far, so a member left out takes its own ',' after it
	for {
		start := i
		end, escaped := scanString(data, i)
		if end < 0 {
			return redactCut(data, out, kept, start), true
		}
		key := data[i+1 : end]
		if escaped {
			var buf [64]byte
			var ok bool
			if key, ok = appendUnescaped(buf[:0], key); !ok {
				return redactCut(data, out, kept, start), true
			}
		}
		isFP := lookupField(key) == fieldPasswordFP
		if i = colon(data, end+1); i < 0 {
			return redactCut(data, out, kept, start), true
		}
		if i = skipValue(data, i, 1); i < 0 {
			return redactCut(data, out, kept, start), true
		}
		memberEnd := i
		var c byte
		i, c = afterMember(data, i)
		if isFP {
			// Leave out [prev, memberEnd) after a kept member (from the
			// end of the last member left out, if later), or
			// [start, i) (the member and its ',') when it is the
			// first member.
			from, to := max(prev, kept), memberEnd
			if first {
				from, to = start, i
				if c != ',' {
					to = memberEnd
				}
			}
			out = append(out, data[kept:from]...)
			kept = to
		} else {
			first = false
			prev = memberEnd
		}
		switch c {
		case ',':
			continue
		case '}':
			if skipSpace(data, i) != len(data) {
				return redactCut(data, out, kept, i), true
			}
			if out == nil {
				return data, false
			}
			return append(out, data[kept:]...), false
		default:
			return redactCut(data, out, kept, memberEnd), true
		}
	}
}

// redactCut returns the clean part of a message whose walk stopped at
// data[at]: what out holds and data[kept:at].
func redactCut(data, out []byte, kept, at int) []byte {
	if at < kept {
		at = kept
	}
	return append(out, data[kept:at]...)
}
