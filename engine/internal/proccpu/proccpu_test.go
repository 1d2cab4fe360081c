package proccpu

import (
	"errors"
	"net"
	"os"
	"runtime"
	"testing"
	"time"
)

// TestListeningOn finds this process by a port it listens on, and finds
// nothing on a port that is closed again.
func TestListeningOn(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "tcp6" {
				addr = "[::1]:0"
			}
			l, err := net.Listen(network, addr)
			if err != nil {
				t.Skipf("no %s loopback: %v", network, err)
			}
			port := l.Addr().(*net.TCPAddr).Port
			pid, err := ListeningOn(port)
			if err != nil || pid != os.Getpid() {
				t.Errorf("ListeningOn(%d) = %d, %v; want this process %d", port, pid, err, os.Getpid())
			}
			l.Close()
			if pid, err := ListeningOn(port); !errors.Is(err, ErrNotFound) {
				t.Errorf("ListeningOn(%d) after close = %d, %v; want ErrNotFound", port, pid, err)
			}
		})
	}
}

// TestMeter counts the CPU a busy loop burns, in this process through
// getrusage and through /proc/<pid>/stat: the loop runs until getrusage
// says it used 200 ms (however busy the machine), and /proc must say
// about as much (its resolution is 10 ms).
func TestMeter(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	const busy = 200 * time.Millisecond
	m := Start([]Process{{Name: "self-by-pid", PID: os.Getpid()}})
	start, err := Self()
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); x++ {
		if now, _ := Self(); now-start >= busy {
			break
		}
	}
	got := m.Stop("self")
	if len(got) != 2 || got[0].Name != "self" || got[1].Name != "self-by-pid" {
		t.Fatalf("Stop = %+v, want self and self-by-pid", got)
	}
	for _, u := range got {
		if u.CPU < busy-20*time.Millisecond {
			t.Errorf("%s used %s during a loop that burnt %s (x=%d)", u.Name, u.CPU, busy, x)
		}
	}
	if got := Start([]Process{{Name: "none", PID: 1 << 30}}).Stop("self"); len(got) != 1 {
		t.Errorf("a process that does not exist is reported: %+v", got)
	}
}
