// Package proccpu reads the CPU time processes used, from /proc: this
// process, and the processes found by the TCP port they listen on (the
// broker, ClickHouse) when they run on this machine. The bench harness and
// the history cost benchmarks divide its deltas by the events they moved.
package proccpu

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNotFound is returned by ListeningOn when no process of this machine
// that /proc lets us see listens on the port.
var ErrNotFound = errors.New("proccpu: no visible process listens on the port")

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// Self returns the CPU time (user + system) this process has used so far.
func Self() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("proccpu: getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// SelfTimes returns the CPU time this process has used so far in user
// mode and in the kernel (system calls, and the network stack's work
// done on their behalf), apart.
func SelfTimes() (user, system time.Duration, err error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, fmt.Errorf("proccpu: getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano()), nil
}

// Of returns the CPU time (user + system, all threads) process pid has
// used so far, at the 10 ms resolution of /proc.
func Of(pid int) (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, fmt.Errorf("proccpu: reading stat of pid %d: %w", pid, err)
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// the fields after the last ')' start at field 3 (state).
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("proccpu: stat of pid %d: no command name", pid)
	}
	fields := strings.Fields(string(b[i+1:]))
	const utime, stime = 14 - 3, 15 - 3 // field numbers of proc(5), from field 3
	if len(fields) <= stime {
		return 0, fmt.Errorf("proccpu: stat of pid %d: %d fields", pid, len(fields)+2)
	}
	var ticks int64
	for _, f := range []string{fields[utime], fields[stime]} {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("proccpu: stat of pid %d: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// ListeningOn returns the pid of the process listening on TCP port (IPv4
// or IPv6, any address), found through the socket's inode in
// /proc/net/tcp{,6} and the process's open files in /proc/<pid>/fd. It
// returns ErrNotFound when the port has no listener on this machine, or
// the listener belongs to a process whose files we may not read.
func ListeningOn(port int) (int, error) {
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if err := listeningInodes(table, port, inodes); err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, err
		}
	}
	if len(inodes) == 0 {
		return 0, ErrNotFound
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("proccpu: %w", err)
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fdDir := filepath.Join("/proc", p.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue // gone, or not ours to read
		}
		for _, fd := range fds {
			target, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err != nil {
				continue
			}
			if inode, ok := strings.CutPrefix(target, "socket:["); ok && inodes[strings.TrimSuffix(inode, "]")] {
				return pid, nil
			}
		}
	}
	return 0, ErrNotFound
}

// tcpListen is the state of a listening socket in /proc/net/tcp.
const tcpListen = "0A"

// listeningInodes adds to inodes the socket inodes of table (a
// /proc/net/tcp file) that listen on port.
func listeningInodes(table string, port int, inodes map[string]bool) error {
	f, err := os.Open(table)
	if err != nil {
		return fmt.Errorf("proccpu: %w", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Scan() // the header
	for s.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		fields := strings.Fields(s.Text())
		if len(fields) < 10 || fields[3] != tcpListen {
			continue
		}
		_, hexPort, ok := strings.Cut(fields[1], ":")
		if !ok {
			continue
		}
		if p, err := strconv.ParseUint(hexPort, 16, 16); err == nil && int(p) == port {
			inodes[fields[9]] = true
		}
	}
	if err := s.Err(); err != nil {
		return fmt.Errorf("proccpu: reading %s: %w", table, err)
	}
	return nil
}

// Meter measures CPU time between a start and a stop for this process and
// the processes it was given.
type Meter struct {
	procs []Process
	start []time.Duration // per process; -1: unreadable
	self  time.Duration
}

// Process is a process a Meter watches, by name.
type Process struct {
	Name string
	PID  int
}

// Usage is the CPU time one process used between a Meter's start and stop.
type Usage struct {
	Name string
	CPU  time.Duration
}

// Start begins measuring this process and procs.
func Start(procs []Process) *Meter {
	m := &Meter{procs: procs, start: make([]time.Duration, len(procs))}
	m.self, _ = Self()
	for i, p := range procs {
		t, err := Of(p.PID)
		if err != nil {
			t = -1
		}
		m.start[i] = t
	}
	return m
}

// Stop returns the CPU time each process used since Start: this process
// first, named self, then the others in order; a process that could not
// be read at start or stop is left out.
func (m *Meter) Stop(self string) []Usage {
	out := make([]Usage, 0, 1+len(m.procs))
	if t, err := Self(); err == nil {
		out = append(out, Usage{Name: self, CPU: t - m.self})
	}
	for i, p := range m.procs {
		t, err := Of(p.PID)
		if err != nil || m.start[i] < 0 {
			continue
		}
		out = append(out, Usage{Name: p.Name, CPU: t - m.start[i]})
	}
	return out
}
