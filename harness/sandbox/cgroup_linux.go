package sandbox

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

	"golang.org/x/sys/unix"
)

// ErrNoCgroup2 means no cgroup v2 hierarchy is mounted: scenario processes
// then run without a cgroup, and only their sessions are killed.
var ErrNoCgroup2 = errors.New("no cgroup v2 hierarchy mounted")

// Cgroup is a cgroup v2 of the run's own. Processes started into it
// (CLONE_INTO_CGROUP, so there is no moment when a child is outside) stay
// in it whatever they do — setsid, double fork, daemonize — and Kill ends
// them all at once.
type Cgroup struct {
	Name string
	Path string
	fd   int
}

// cgroup2Root finds the cgroup v2 mount point: /sys/fs/cgroup on a unified
// host, /sys/fs/cgroup/unified on a hybrid one.
func cgroup2Root() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ... mountpoint ... - fstype source options
		left, right, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		if rf := strings.Fields(right); len(rf) > 0 && rf[0] == "cgroup2" {
			if lf := strings.Fields(left); len(lf) >= 5 {
				return lf[4], nil
			}
		}
	}
	return "", ErrNoCgroup2
}

// NewCgroup creates an empty cgroup at the root of the cgroup v2 hierarchy.
func NewCgroup() (*Cgroup, error) {
	root, err := cgroup2Root()
	if err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	name := newName()
	path := filepath.Join(root, name)
	if err := os.Mkdir(path, 0o755); err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	return &Cgroup{Name: name, Path: path, fd: fd}, nil
}

// FD is the cgroup's directory, for SysProcAttr.CgroupFD.
func (c *Cgroup) FD() int { return c.fd }

// PIDs lists the processes in the cgroup.
func (c *Cgroup) PIDs() []int { return cgroupPIDs(c.Path) }

// Kill SIGKILLs every process in the cgroup and waits (up to 5 s) until it
// is empty.
func (c *Cgroup) Kill() error { return killCgroup(c.Path) }

// Close kills what is left and removes the cgroup.
func (c *Cgroup) Close() error {
	if c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
	return RemoveCgroup(c.Path)
}

// RemoveCgroup kills the processes of a cgroup and removes it; a missing
// one is no error.
func RemoveCgroup(path string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	kerr := killCgroup(path)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return errors.Join(kerr, fmt.Errorf("cgroup: %w", err))
	}
	return nil
}

func cgroupPIDs(path string) []int {
	data, err := os.ReadFile(filepath.Join(path, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

func killCgroup(path string) error {
	// cgroup.kill (Linux 5.14) kills every member atomically, forks in
	// flight included; older kernels get a kill loop.
	kerr := os.WriteFile(filepath.Join(path, "cgroup.kill"), []byte("1"), 0)
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids := cgroupPIDs(path)
		if len(pids) == 0 {
			return nil
		}
		if kerr != nil {
			for _, pid := range pids {
				syscall.Kill(pid, syscall.SIGKILL) //nolint:errcheck // may be gone
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup: %s: processes %v still alive after SIGKILL", filepath.Base(path), pids)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
