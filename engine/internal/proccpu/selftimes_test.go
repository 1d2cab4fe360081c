package proccpu

import (
	"testing"
	"time"
)

// SelfTimes splits this process's CPU time into user and kernel time:
// both grow with work of their kind, and together they are Self's total.
func TestSelfTimes(t *testing.T) {
	user0, kernel0, err := SelfTimes()
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
		for i := range 100_000 {
			x += i * i
		}
	}
	_ = x
	user1, kernel1, err := SelfTimes()
	if err != nil {
		t.Fatal(err)
	}
	if user1 <= user0 || kernel1 < kernel0 {
		t.Errorf("after a busy loop: user %v -> %v, kernel %v -> %v; want user to grow", user0, user1, kernel0, kernel1)
	}
	total, err := Self()
	if err != nil {
		t.Fatal(err)
	}
	user2, kernel2, _ := SelfTimes()
	if sum := user1 + kernel1; total < sum || total > user2+kernel2 {
		t.Errorf("Self %v is not between the sums of SelfTimes before (%v) and after (%v)", total, sum, user2+kernel2)
	}
}
