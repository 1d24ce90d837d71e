//go:build linux

package ebpf

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkBurst is the audit sensor's BenchmarkBurst (harness/sensor) on
// this sensor: 20,000 non-blocking connection attempts to a closed loopback
// port, as fast as one process can, then Sync. events/s counts captured
// attempts over the time from the first attempt to the end of Sync;
// sensor-cpu-ms is this process's CPU (the reader and the tracker), which
// leaves out the programs' own run time, spent in the burst's context.
func BenchmarkBurst(b *testing.B) {
	for range b.N {
		benchBurst(b, 20000)
	}
}

func benchBurst(b *testing.B, n int) {
	s := start(b, Config{})
	// A port nothing listens on: bind one, note it, close it.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	cpu0 := cpuSelf()
	t0 := time.Now()
	pid, burstTime := burst(b, n, port)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	if err := s.Sync(ctx); err != nil {
		b.Fatalf("Sync: %v", err)
	}
	elapsed := time.Since(t0)
	cpu := cpuSelf() - cpu0
	got := 0
	for _, o := range s.Drain() {
		if o.Connect != nil && o.Connect.Process.PID == pid && o.Connect.Dest.Port() == port {
			got++
		}
	}
	st := s.Stats()
	b.ReportMetric(float64(got), "captured")
	b.ReportMetric(float64(st.Lost()), "lost")
	b.ReportMetric(float64(got)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(cpu.Milliseconds()), "sensor-cpu-ms")
	b.ReportMetric(float64(burstTime.Milliseconds()), "burst-ms")
	b.Log(fmt.Sprintf("burst of %d in %v: captured %d, %v, %.0f events/s, CPU %v",
		n, burstTime.Round(time.Millisecond), got, st, float64(got)/elapsed.Seconds(), cpu.Round(time.Millisecond)))
	if got != n {
		b.Errorf("captured %d of %d attempts", got, n)
	}
	s.Close()
}

func cpuSelf() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
