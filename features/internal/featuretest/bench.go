package featuretest

import (
	"encoding/binary"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/loginrisk/loginrisk/features/internal/netdata"
)

// ReportCPU reports the process CPU time per operation since start
// (cpu-ns/op): on a shared machine, wall time per operation also counts
// the time other processes held the CPU.
func ReportCPU(b *testing.B, start time.Duration, ops int) {
	if cpu := ProcessCPU() - start; cpu > 0 && ops > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(ops), "cpu-ns/op")
	}
}

// Agents are the user agents of the benchmarks: browsers and clients.
var Agents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
	"python-requests/2.32.3",
	"curl/8.10.1",
	"",
}

// Addrs returns n addresses spread over the networks of the test
// databases, IPv4 and IPv6; IPv6 addresses fall in distinct /64s.
func Addrs(b *testing.B, n int) []netip.Addr {
	src, err := netdata.Load(filepath.Join(GeoIP, "networks.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	out := make([]netip.Addr, n)
	for i := range out {
		net := src.Networks[i%len(src.Networks)].CIDR
		host := uint64(i/len(src.Networks) + 1)
		a := net.Addr().As16()
		if net.Addr().Is4() {
			host &= 1<<(32-net.Bits()) - 1
			binary.BigEndian.PutUint32(a[12:], binary.BigEndian.Uint32(a[12:])|uint32(host))
			out[i] = netip.AddrFrom16(a).Unmap()
			continue
		}
		// Bits 48-63 choose the /64 (every IPv6 network here is /48 or
		// wider), the interface identifier repeats host.
		binary.BigEndian.PutUint16(a[6:], uint16(host))
		binary.BigEndian.PutUint64(a[8:], host)
		out[i] = netip.AddrFrom16(a)
	}
	return out
}
