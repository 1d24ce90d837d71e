package sensor

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/elastic/go-libaudit/v2/rule"
	"golang.org/x/sys/unix"
)

// Rule keys. Every rule carries two keys: the shared Key, so operators can
// find (and `auditctl -D -k purpleharness` can delete) everything the
// harness loaded, and an instance key naming the sensor that owns it:
//
//	purpleharness:<pid>:<starttime>:<n>:e<enabled>:b<backlog_limit>
//
// pid and starttime (/proc/<pid>/stat field 22) identify the owning process
// across pid reuse; n tells apart sensors within one process. The audit
// state found before the first sensor changed anything (enabled flag,
// backlog limit) travels in the key too: the kernel rule list is the one
// registry every sensor on the host can read, so the last sensor to stop —
// or the next one to start after a crash — restores the true original state
// without a file to leave behind.
const Key = "purpleharness"

// instance is one sensor's identity and the original audit state it carries.
type instance struct {
	PID       int
	StartTick int64
	N         int
	Enabled   uint32
	Backlog   uint32
}

func (in instance) key() string {
	return fmt.Sprintf("%s:%d:%d:%d:e%d:b%d", Key, in.PID, in.StartTick, in.N, in.Enabled, in.Backlog)
}

// startedBefore reports whether in started before o (nil: no sensor yet);
// sensors started in the same tick go by their number.
func (in instance) startedBefore(o *instance) bool {
	return o == nil || in.StartTick < o.StartTick || in.StartTick == o.StartTick && in.N < o.N
}

// parseInstanceKey reads a key written by instance.key.
func parseInstanceKey(k string) (instance, bool) {
	f := strings.Split(k, ":")
	if len(f) != 6 || f[0] != Key || !strings.HasPrefix(f[4], "e") || !strings.HasPrefix(f[5], "b") {
		return instance{}, false
	}
	var in instance
	var err [5]error
	in.PID, err[0] = strconv.Atoi(f[1])
	in.StartTick, err[1] = strconv.ParseInt(f[2], 10, 64)
	in.N, err[2] = strconv.Atoi(f[3])
	en, e3 := strconv.ParseUint(f[4][1:], 10, 32)
	bl, e4 := strconv.ParseUint(f[5][1:], 10, 32)
	err[3], err[4] = e3, e4
	if errors.Join(err[:]...) != nil || in.PID <= 0 {
		return instance{}, false
	}
	in.Enabled, in.Backlog = uint32(en), uint32(bl)
	return in, true
}

// alive reports whether the sensor that wrote in still runs: its pid exists
// with the same start time.
func (in instance) alive() bool {
	st, ok := startTicks(in.PID)
	return ok && st == in.StartTick
}

// ruleSpec is one audit rule in auditctl's words, for docs and errors.
type ruleSpec struct {
	arch     string
	syscalls []string
	filters  [][3]string // lhs, op, rhs
	optional bool        // may fail (b32 on kernels without IA32 emulation)
}

func (r ruleSpec) String() string {
	s := "-a always,exit -F arch=" + r.arch + " -S " + strings.Join(r.syscalls, ",")
	for _, f := range r.filters {
		s += " -F " + f[0] + f[1] + f[2]
	}
	return s
}

// ruleSpecs lists the sensor's rules for both syscall ABIs:
//   - execve/execveat: process starts with argv (EXECVE record);
//   - connect filtered in the kernel to AF_INET/AF_INET6 (saddr_fam, Linux
//     5.9+), so Unix-socket traffic (D-Bus, Docker's API) costs nothing;
//   - socket for AF_INET/AF_INET6, to learn each socket's type and name the
//     transport (tcp or udp) of a later connect on that fd — connect's own
//     records do not say;
//   - on b32, also socketcall(SYS_CONNECT), which i386 programs built
//     without direct socket syscalls use.
func ruleSpecs() []ruleSpec {
	var specs []ruleSpec
	for _, arch := range []string{"b64", "b32"} {
		opt := arch == "b32"
		specs = append(specs,
			ruleSpec{arch, []string{"execve", "execveat"}, nil, opt},
			ruleSpec{arch, []string{"connect"}, [][3]string{{"saddr_fam", "=", "2"}}, opt},
			ruleSpec{arch, []string{"connect"}, [][3]string{{"saddr_fam", "=", "10"}}, opt},
			ruleSpec{arch, []string{"socket"}, [][3]string{{"a0", "=", "2"}}, opt},
			ruleSpec{arch, []string{"socket"}, [][3]string{{"a0", "=", "10"}}, opt},
		)
	}
	specs = append(specs,
		ruleSpec{"b32", []string{"socketcall"}, [][3]string{{"a0", "=", "3"}, {"saddr_fam", "=", "2"}}, true},
		ruleSpec{"b32", []string{"socketcall"}, [][3]string{{"a0", "=", "3"}, {"saddr_fam", "=", "10"}}, true},
	)
	return specs
}

func (r ruleSpec) build(keys ...string) (rule.WireFormat, error) {
	sr := &rule.SyscallRule{
		Type:     rule.AppendSyscallRuleType,
		List:     "exit",
		Action:   "always",
		Syscalls: r.syscalls,
		Keys:     keys,
		Filters:  []rule.FilterSpec{{Type: rule.ValueFilterType, LHS: "arch", Comparator: "=", RHS: r.arch}},
	}
	for _, f := range r.filters {
		sr.Filters = append(sr.Filters, rule.FilterSpec{Type: rule.ValueFilterType, LHS: f[0], Comparator: f[1], RHS: f[2]})
	}
	return rule.Build(sr)
}

// ruleKeys extracts the -k values of a rule in wire format.
func ruleKeys(wf []byte) []string {
	cmd, err := rule.ToCommandLine(wf, false)
	if err != nil {
		return nil
	}
	// Keys print as "-F key=K" (one per key, like auditctl -l) or "-k K".
	var keys []string
	f := strings.Fields(cmd)
	for i := 0; i+1 < len(f); i++ {
		switch {
		case f[i] == "-k":
			keys = append(keys, f[i+1])
		case f[i] == "-F" && strings.HasPrefix(f[i+1], "key="):
			// go-libaudit prints all keys in one field joined by
			// AUDIT_KEY_SEPARATOR (0x01), as the kernel stores them.
			keys = append(keys, strings.Split(strings.TrimPrefix(f[i+1], "key="), "\x01")...)
		}
	}
	return keys
}

// ownedBy returns the instance a rule belongs to, if it carries our keys.
func ownedBy(wf []byte) (instance, bool) {
	for _, k := range ruleKeys(wf) {
		if in, ok := parseInstanceKey(k); ok {
			return in, true
		}
	}
	return instance{}, false
}

// hostLock serialises rule and state changes between sensors on one host,
// so two starting at once cannot both take the other's raised backlog for
// the original. It is an abstract Unix socket: exclusive by name, released
// by the kernel when the holder dies (even by kill -9), and it leaves no
// file behind.
type hostLock struct{ fd int }

const lockName = "@purpleharness-audit-lock"

func acquireHostLock(ctx context.Context) (*hostLock, error) {
	for {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("host lock: %w", err)
		}
		err = unix.Bind(fd, &unix.SockaddrUnix{Name: lockName})
		if err == nil {
			return &hostLock{fd: fd}, nil
		}
		unix.Close(fd)
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("host lock: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("host lock: waiting for another sensor: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (l *hostLock) release() { unix.Close(l.fd) }
