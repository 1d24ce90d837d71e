// Package sandbox isolates one run of the harness from the host and from
// other runs, and makes sure nothing of it survives however the run ends.
//
// A run gets a network namespace of its own (Netns) with its loopback up
// and, optionally, a C2 address added to it: the fake mail servers listen
// there, and every scenario process starts there, so 127.0.0.1:25 inside
// never clashes with a mail server on the host or with another run, and an
// atomic cannot reach the host's network. Scenario processes also start in
// a cgroup of their own (Cgroup, cgroup v2), so that every process a
// scenario left behind, however it detached, is killed in one write to
// cgroup.kill.
//
// Every name carries the owning process's pid and start time
// ("purpleharness-<pid>-<starttime>-<n>"), so a leftover is recognisable
// and RemoveStale can tell a dead run's state from a live one's.
//
// The Reaper is the same executable re-executed as a child that holds the
// run's cleanup list: when the run's process dies without saying it is done
// (SIGKILL, a crash), the reaper sees its pipe close and undoes everything
// on the list.
package sandbox
