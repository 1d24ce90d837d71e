//go:build linux

package ebpf

import (
	"bufio"
	"os"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// tracefsMounted reports whether a tracefs is mounted at tracefsMount,
// from /proc/self/mountinfo (a stat would see the empty sysfs directory).
func tracefsMounted(t *testing.T) bool {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options ... - fstype ...
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || fields[4] != tracefsMount {
			continue
		}
		for i, f := range fields {
			if f == "-" && i+1 < len(fields) && fields[i+1] == "tracefs" {
				return true
			}
		}
	}
	return false
}

// withoutTracefs unmounts the host's tracefs for the test (under the
// attach lock, so no sensor is reading it) and mounts it back afterwards if
// it was there.
func withoutTracefs(t *testing.T) {
	t.Helper()
	unlock, err := lockTracefs()
	if err != nil {
		t.Fatal(err)
	}
	was := tracefsMounted(t)
	if was {
		if err := unix.Unmount(tracefsMount, unix.MNT_DETACH); err != nil {
			unlock()
			t.Fatalf("unmount the host's tracefs for the test: %v", err)
		}
	}
	unlock()
	t.Cleanup(func() {
		unlock, err := lockTracefs()
		if err != nil {
			t.Error(err)
			return
		}
		defer unlock()
		if was && !tracefsMounted(t) {
			if err := unix.Mount("tracefs", tracefsMount, "tracefs", 0, ""); err != nil {
				t.Errorf("mount the host's tracefs back: %v", err)
			}
		}
	})
}

// TestTracefsOnlyWhileAttaching: on a host without tracefs, sensors
// starting together all attach (none unmounts the tracefs another is
// reading), and once they run no tracefs and no marker are left.
func TestTracefsOnlyWhileAttaching(t *testing.T) {
	start(t, Config{}).Close() // skips here if BPF is unavailable
	if _, err := os.Stat("/sys/kernel/debug/tracing/events"); err == nil {
		t.Skip("tracefs is reachable under debugfs: the sensor never mounts one here")
	}
	withoutTracefs(t)
	if tracefsReachable() {
		t.Fatal("tracefs still reachable after unmounting it")
	}
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Start(t.Context(), Config{})
			if err == nil {
				t.Cleanup(func() { s.Close() })
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("sensor %d: %v", i, err)
		}
	}
	if tracefsMounted(t) {
		t.Error("a tracefs is still mounted at " + tracefsMount + " after the sensors attached")
	}
	if _, err := os.Stat(tracefsMarker); err == nil {
		t.Errorf("%s left behind", tracefsMarker)
	}
}

// TestReapTracefs: a tracefs whose sensor died between mount and unmount
// (its marker is left) is unmounted by ReapTracefs, and by the next sensor
// that attaches; with no marker, ReapTracefs leaves a tracefs alone.
func TestReapTracefs(t *testing.T) {
	start(t, Config{}).Close()
	withoutTracefs(t)
	mountLikeADeadSensor := func() {
		t.Helper()
		unlock, err := lockTracefs()
		if err != nil {
			t.Fatal(err)
		}
		defer unlock()
		if err := os.WriteFile(tracefsMarker, []byte("1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount("tracefs", tracefsMount, "tracefs", 0, ""); err != nil {
			t.Fatal(err)
		}
	}

	mountLikeADeadSensor()
	if err := ReapTracefs(); err != nil {
		t.Fatal(err)
	}
	if tracefsMounted(t) {
		t.Error("ReapTracefs left the dead sensor's tracefs mounted")
	}
	if _, err := os.Stat(tracefsMarker); err == nil {
		t.Errorf("ReapTracefs left %s", tracefsMarker)
	}

	mountLikeADeadSensor()
	start(t, Config{})
	if tracefsMounted(t) {
		t.Error("the next sensor left the dead sensor's tracefs mounted")
	}

	// Not ours: a tracefs mounted by someone else stays.
	if err := unix.Mount("tracefs", tracefsMount, "tracefs", 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := ReapTracefs(); err != nil {
		t.Fatal(err)
	}
	if !tracefsMounted(t) {
		t.Error("ReapTracefs unmounted a tracefs it did not mount")
	}
	unix.Unmount(tracefsMount, unix.MNT_DETACH)
}
