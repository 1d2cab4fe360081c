package state

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/schemas"
)

// fingerprint returns a valid password_fp for password number n: as a
// keyed hash's, its first 64 bits differ from any other number's.
func fingerprint(n int) string {
	var b [12]byte
	binary.BigEndian.PutUint64(b[:], uint64(n+1)*0x9e3779b97f4a7c15)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// failWith observes a failed password check of user from ip at, with the
// password_fp of password number password (none when negative).
func failWith(sc *scorer, user, ip string, at time.Time, password int) schemas.Features {
	ev := testEvent(sc.t, user, ip, false, at)
	if password >= 0 {
		ev.PasswordFP = fingerprint(password)
	}
	if err := schemas.Validate(ev); err != nil {
		sc.t.Fatal(err)
	}
	return sc.observe(ev)
}

// TestRetriedPasswordCountsOnce: a user retrying the same wrong password
// from home adds one failure to the counts the lock rules read, however
// often; a second wrong password, or the same one from another network,
// adds one more; without password_fp every failure counts, as before.
func TestRetriedPasswordCountsOnce(t *testing.T) {
	type want struct {
		repeated                            bool
		userFailures15m, networkFailures15m int
		consecutive                         int
	}
	tests := []struct {
		name     string
		ip       string
		password int
		want     want
	}{
		{"first typo", londonV4, 1, want{false, 1, 1, 1}},
		{"the same typo", londonV4, 1, want{true, 1, 1, 1}},
		{"the same typo again", londonV4, 1, want{true, 1, 1, 1}},
		{"the same again, a third time", londonV4, 1, want{true, 1, 1, 1}},
		{"another wrong password", londonV4, 2, want{false, 2, 2, 2}},
		{"the first again", londonV4, 1, want{true, 2, 2, 2}},
		{"the first from another address of the /24", "81.2.69.7", 1, want{true, 2, 2, 2}},
		{"the first from another network", sfV4, 1, want{false, 3, 1, 3}},
		{"no fingerprint counts", londonV4, -1, want{false, 4, 3, 4}},
		{"nor does a second without", londonV4, -1, want{false, 5, 4, 5}},
	}
	sc := newScorer(t)
	for i, tt := range tests {
		f := failWith(sc, "alice", tt.ip, t0.Add(time.Duration(i)*30*time.Second), tt.password)
		got := want{f.PasswordRepeated, f.UserFailures15m, f.UserNetworkFailures15m, f.UserConsecutiveFailures}
		if got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}

	// Six retries of one typo from home never reach five failures from
	// one network (failure_burst); six distinct passwords do.
	for _, distinct := range []bool{false, true} {
		sc := newScorer(t)
		var f schemas.Features
		for i := range 6 {
			password := 7
			if distinct {
				password = i
			}
			f = failWith(sc, "bob", londonV4, t0.Add(time.Duration(i)*time.Minute), password)
		}
		if wantFailures := map[bool]int{false: 1, true: 6}[distinct]; f.UserNetworkFailures15m != wantFailures || f.UserFailures24h != wantFailures || f.UserDistinctPasswords1h != wantFailures {
			t.Errorf("distinct %t: user_network_failures_15m %d, user_failures_24h %d, user_distinct_passwords_1h %d; want %d each",
				distinct, f.UserNetworkFailures15m, f.UserFailures24h, f.UserDistinctPasswords1h, wantFailures)
		}
		// The day's and week's account counts start at the user's second
		// and third failure of a day: never for one retried typo.
		if started := f.UserNetworkFailures24h > 0 && f.UserFailures7d > 0; started != distinct {
			t.Errorf("distinct %t: user_network_failures_24h %d, user_failures_7d %d", distinct, f.UserNetworkFailures24h, f.UserFailures7d)
		}
	}
}

// TestDistinctPasswordsPerUser counts a guesser's distinct passwords over
// an hour and a day, up to the 16 a user keeps.
func TestDistinctPasswordsPerUser(t *testing.T) {
	sc := newScorer(t)
	var f schemas.Features
	for i := range 10 {
		f = failWith(sc, "carol", fmt.Sprintf("67.80.%d.9", i), t0.Add(time.Duration(i)*time.Minute), i)
	}
	if f.UserDistinctPasswords1h != 10 || f.UserDistinctPasswords24h != 10 {
		t.Errorf("after 10 passwords in 10 min: 1h %d, 24h %d; want 10, 10", f.UserDistinctPasswords1h, f.UserDistinctPasswords24h)
	}
	f = failWith(sc, "carol", londonV4, t0.Add(3*time.Hour), 100)
	if f.UserDistinctPasswords1h != 1 || f.UserDistinctPasswords24h != 11 {
		t.Errorf("3 h later: 1h %d, 24h %d; want 1, 11", f.UserDistinctPasswords1h, f.UserDistinctPasswords24h)
	}
	for i := range 30 {
		f = failWith(sc, "carol", londonV4, t0.Add(4*time.Hour+time.Duration(i)*time.Minute), 200+i)
	}
	if f.UserDistinctPasswords1h != maxPasswordRecords || f.UserDistinctPasswords24h != maxPasswordRecords {
		t.Errorf("after 30 more: 1h %d, 24h %d; want the bound %d", f.UserDistinctPasswords1h, f.UserDistinctPasswords24h, maxPasswordRecords)
	}
	if f = failWith(sc, "dave", londonV4, t0.Add(5*time.Hour), -1); f.UserDistinctPasswords1h != 0 || f.PasswordDistinctUsers1h != 0 {
		t.Errorf("without password_fp: %d, %d; want 0", f.UserDistinctPasswords1h, f.PasswordDistinctUsers1h)
	}
}

// TestPasswordOverManyAccounts: one password tried on 30 accounts from 30
// addresses is a spray the fingerprint table sees; 30 people's own typos
// behind one address are 30 passwords of one user each; a success with
// the sprayed password reads the count without adding to it; the count
// ends with the hour.
func TestPasswordOverManyAccounts(t *testing.T) {
	sc := newScorer(t)
	var f schemas.Features
	for i := range 30 {
		f = failWith(sc, fmt.Sprintf("victim%02d", i), fmt.Sprintf("45.33.%d.%d", i/8, i%8+10), t0.Add(time.Duration(i)*time.Minute), 42)
	}
	if f.PasswordDistinctUsers1h != 30 {
		t.Errorf("spray: password_distinct_users_1h %d, want 30", f.PasswordDistinctUsers1h)
	}
	for i := range 30 {
		f = failWith(sc, fmt.Sprintf("colleague%02d", i), sfV4, t0.Add(time.Duration(i)*time.Minute), 1000+i)
		if f.PasswordDistinctUsers1h != 1 {
			t.Fatalf("colleague %d's typo: password_distinct_users_1h %d, want 1", i, f.PasswordDistinctUsers1h)
		}
	}
	// The spray finds an account whose password it is: the success reads
	// the 30 who failed with it, and is not counted among them.
	for range 2 {
		ok := testEvent(t, "lucky", londonV4, true, t0.Add(31*time.Minute))
		ok.PasswordFP = fingerprint(42)
		if f := sc.observe(ok); f.PasswordDistinctUsers1h != 30 || f.UserDistinctPasswords1h != 0 || f.PasswordRepeated {
			t.Errorf("a success with the sprayed password: %d users, %d passwords, repeated %t; want 30, 0, false", f.PasswordDistinctUsers1h, f.UserDistinctPasswords1h, f.PasswordRepeated)
		}
	}
	if f = failWith(sc, "late", londonV4, t0.Add(3*time.Hour), 42); f.PasswordDistinctUsers1h != 1 {
		t.Errorf("3 h later: %d users, want 1", f.PasswordDistinctUsers1h)
	}
	if removed := sc.s.Sweep(t0.Add(6 * time.Hour)); removed == 0 || sc.s.passwords.held.Load() != 0 {
		t.Errorf("a sweep 3 h after the last try removed %d keys and left %d fingerprints", removed, sc.s.passwords.held.Load())
	}
}

// TestPasswordTableBound fills the fingerprint table past its cap: single
// users' fingerprints make room, a spraying fingerprint stays.
func TestPasswordTableBound(t *testing.T) {
	tab := newPasswordTable(passwordShards) // one fingerprint a shard
	at := uint32(1_000_000)
	spray := uint64(0xfeed)
	for u := range uint32(5) {
		tab.apply(spray, u, at, true, true)
	}
	for fp := range uint64(2000) {
		tab.apply(fp, 99, at+1, true, true)
	}
	if n := tab.apply(spray, 100, at+2, true, false); n != 6 {
		t.Errorf("the spray's fingerprint counts %d users after the flood, want 6 (kept)", n)
	}
	if held := tab.held.Load(); held > passwordShards {
		t.Errorf("%d fingerprints held, more than the cap %d", held, passwordShards)
	}
	// A shard full of fingerprints several users failed with refuses a
	// new one rather than forget a spray.
	full := newPasswordTable(passwordShards)
	for fp := range uint64(5000) {
		full.apply(fp, 1, at, true, true)
		full.apply(fp, 2, at, true, true)
	}
	if full.refused.Load() == 0 {
		t.Error("no fingerprint refused at the cap with every kept one shared by two users")
	}
}
