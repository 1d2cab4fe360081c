package schemas

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"unicode"
	"unicode/utf8"
)

// checkRunesReference is what checkString did, before its ASCII fast
// path, to a present string within its length: UTF-8 over the whole
// string, then every rune.
func checkRunesReference(field, s string) error {
	if !utf8.ValidString(s) {
		return fieldErr(field, "is not valid UTF-8")
	}
	for i, r := range s {
		if unicode.IsControl(r) {
			return fieldErr(field, "has a control character %s at byte %d", strconv.QuoteRune(r), i)
		}
	}
	return nil
}

func TestCheckStringMatchesReference(t *testing.T) {
	cases := []string{
		"", "alice", "al\x00ice", "al\x1fice", "al\x7fice", "al\x20ice", "~", "\x7e\x7f",
		"café", "caf\u0085é", "x\u0085", "\u200b", "ok\xff", "a\x01b\xffc", "\xff\x01", "é\x01",
		"Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0", "tab\there", "日本\n",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "Z", "0", " ", "~", "\x00", "\x1f", "\x7f", "\x80", "\xc3", "é", "\u0085", "\u2028", "日"}
	for range 20000 {
		n := rng.IntN(12)
		s := ""
		for range n {
			s += alphabet[rng.IntN(len(alphabet))]
		}
		cases = append(cases, s)
	}
	for _, s := range cases {
		if s == "" {
			continue // presence and length are checked before, as they were
		}
		got, want := checkString("user_agent", s, 1000, false), checkRunesReference("user_agent", s)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("checkString(%q) = %v, want %v", s, got, want)
		}
	}
}
