package prereq

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// BindError classifies a failure to listen on addr. When the port is held
// by a listener of a process that is not ours (neither this process nor a
// purpleharness binary: validate, a test binary), it returns a *Missing
// with Cause Port naming the holder. Anything else, including a port held
// by one of our own processes (a leak is our bug) or a holder that cannot
// be found, is returned unchanged.
//
// A port below 1024 refused for want of privilege (EACCES) is Cause Root.
func BindError(addr string, err error) error {
	if err == nil {
		return err
	}
	_, portStr, splitErr := net.SplitHostPort(addr)
	if splitErr != nil {
		return err
	}
	port, convErr := strconv.Atoi(portStr)
	if convErr != nil {
		return err
	}
	if errors.Is(err, syscall.EACCES) && port > 0 && port < 1024 {
		return Errorf(Root, "%w (port %d needs root or CAP_NET_BIND_SERVICE)", err, port)
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		return err
	}
	pid, comm, ok := PortHolder(port)
	if !ok || ours(pid, comm) {
		return err
	}
	return Errorf(Port, "%v: held by pid %d (%s)", err, pid, comm)
}

// PortFree returns a *Missing with Cause Port when a process that is not
// ours listens on TCP port, and nil otherwise (free, or held by one of ours:
// binding then fails with a plain error, a bug to report).
func PortFree(port int) error {
	pid, name, ok := PortHolder(port)
	if !ok || ours(pid, name) {
		return nil
	}
	return Errorf(Port, "port %d held by pid %d (%s)", port, pid, name)
}

// ours reports whether pid is this process or runs one of our binaries.
func ours(pid int, comm string) bool {
	return pid == os.Getpid() || comm == "validate" || strings.HasSuffix(comm, ".test")
}

// PortHolder finds the process listening on TCP port (any address, IPv4 or
// IPv6) from /proc/net/tcp{,6} and the socket links under /proc/PID/fd.
func PortHolder(port int) (pid int, name string, ok bool) {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) < 10 || fs[3] != "0A" { // 0A: TCP_LISTEN
				continue
			}
			i := strings.LastIndexByte(fs[1], ':')
			p, err := strconv.ParseUint(fs[1][i+1:], 16, 16)
			if err != nil || int(p) != port {
				continue
			}
			inodes["socket:["+fs[9]+"]"] = true
		}
	}
	if len(inodes) == 0 {
		return 0, "", false
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range procs {
		fds, err := os.ReadDir(filepath.Join(dir, "fd"))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(dir, "fd", fd.Name()))
			if err != nil || !inodes[link] {
				continue
			}
			pid, _ = strconv.Atoi(filepath.Base(dir))
			// The executable's name, not comm: comm is cut at 15 bytes.
			if exe, err := os.Readlink(filepath.Join(dir, "exe")); err == nil {
				return pid, filepath.Base(strings.TrimSuffix(exe, " (deleted)")), true
			}
			c, _ := os.ReadFile(filepath.Join(dir, "comm"))
			return pid, strings.TrimSpace(string(c)), true
		}
	}
	return 0, "", false
}

// String renders a cause for flag and error messages.
func (c Cause) String() string { return string(c) }

var _ fmt.Stringer = Cause("")
