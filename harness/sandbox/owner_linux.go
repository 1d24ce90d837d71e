package sandbox

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
)

// Prefix starts the name of everything a run creates on the host: network
// namespaces, cgroups, temporary directories.
const Prefix = "purpleharness-"

// Owner identifies a process across pid reuse: its pid and its start time
// (field 22 of /proc/PID/stat, in clock ticks since boot).
type Owner struct {
	PID   int
	Start int64
}

// Self is the running process.
func Self() Owner {
	pid := os.Getpid()
	st, _ := startTime(pid)
	return Owner{pid, st}
}

// Alive reports whether the owner still runs: its pid exists with the same
// start time. A zombie still counts as alive.
func (o Owner) Alive() bool {
	st, ok := startTime(o.PID)
	return ok && st == o.Start
}

func (o Owner) String() string { return fmt.Sprintf("%d-%d", o.PID, o.Start) }

var seq atomic.Int64

// newName returns a fresh name owned by this process:
// purpleharness-<pid>-<start>-<n>.
func newName() string {
	return fmt.Sprintf("%s%s-%d", Prefix, Self(), seq.Add(1))
}

// ParseName returns the owner encoded in a name made by this package,
// ignoring any suffix after the sequence number.
func ParseName(name string) (Owner, bool) {
	rest, ok := strings.CutPrefix(name, Prefix)
	if !ok {
		return Owner{}, false
	}
	f := strings.SplitN(rest, "-", 4)
	if len(f) < 3 {
		return Owner{}, false
	}
	pid, err1 := strconv.Atoi(f[0])
	st, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil || pid <= 0 {
		return Owner{}, false
	}
	return Owner{pid, st}, true
}

// startTime reads field 22 of /proc/PID/stat.
func startTime(pid int) (int64, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may contain spaces and parentheses.
	s := string(data)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s)
	if len(f) < 20 {
		return 0, false
	}
	v, err := strconv.ParseInt(f[19], 10, 64)
	return v, err == nil
}
