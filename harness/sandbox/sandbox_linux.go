package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// Sandbox is one run's isolation: its network namespace, the C2 address
// the servers listen on inside it, and the cgroup its scenario processes
// start in.
type Sandbox struct {
	Netns *Netns
	// Cgroup is nil when no cgroup v2 hierarchy is available (NoCgroup
	// says why); processes are then killed by session only.
	Cgroup   *Cgroup
	NoCgroup string
	// C2 is the address the mail servers listen on, inside Netns.
	C2 netip.Addr
}

// Options configure New.
type Options struct {
	// C2 is the servers' address inside the namespace; 127.0.0.1 when
	// unset. Any other address is added to the namespace's loopback.
	C2 netip.Addr
}

// New creates the run's network namespace and cgroup. On error nothing is
// left behind.
func New(opts Options) (_ *Sandbox, err error) {
	s := &Sandbox{C2: opts.C2}
	if !s.C2.IsValid() {
		s.C2 = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.Netns, err = NewNetns(); err != nil {
		return nil, err
	}
	if err := s.Netns.AddAddress(s.C2); err != nil {
		return nil, err
	}
	cg, err := NewCgroup()
	if err != nil {
		// Scenario processes still run; they are killed by session.
		s.NoCgroup = err.Error()
	} else {
		s.Cgroup = cg
	}
	return s, nil
}

// Start starts cmd inside the namespace and the cgroup. Call it from the
// goroutine that waits for cmd: Pdeathsig, if set, is tied to the thread
// that forked the child.
func (s *Sandbox) Start(cmd *exec.Cmd) error {
	if s.Cgroup != nil {
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = s.Cgroup.FD()
	}
	return s.Netns.Do(cmd.Start)
}

// Listen opens a listener inside the namespace; addr's host defaults to
// the C2 address.
func (s *Sandbox) Listen(ctx context.Context, network, addr string) (net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if host == "" {
		host = s.C2.String()
	}
	var l net.Listener
	err = s.Netns.Do(func() error {
		var lc net.ListenConfig
		var err error
		l, err = lc.Listen(ctx, network, net.JoinHostPort(host, port))
		return err
	})
	return l, err
}

// Items lists what Close removes, for the Reaper.
func (s *Sandbox) Items() []Item {
	var items []Item
	if s.Cgroup != nil {
		items = append(items, Item{Kind: KindCgroup, Name: s.Cgroup.Path})
	}
	if s.Netns != nil {
		items = append(items, Item{Kind: KindNetns, Name: s.Netns.Path})
	}
	return items
}

// Describe says in one line what the run is isolated by.
func (s *Sandbox) Describe() string {
	d := "network namespace " + s.Netns.Name + ", servers on " + s.C2.String()
	if s.Cgroup != nil {
		d += ", cgroup " + s.Cgroup.Name
	} else {
		d += " (no cgroup: " + s.NoCgroup + ")"
	}
	return d
}

// Close kills every process left in the cgroup, removes it and the
// namespace's name.
func (s *Sandbox) Close() error {
	var errs []error
	if s.Cgroup != nil {
		errs = append(errs, s.Cgroup.Close())
		s.Cgroup = nil
	}
	if s.Netns != nil {
		errs = append(errs, s.Netns.Close())
		s.Netns = nil
	}
	return errors.Join(errs...)
}

// TempDir creates a temporary directory named for this process
// (purpleharness-<pid>-<start>-<n>-<purpose>), so that RemoveStale can
// remove it once its owner is dead.
func TempDir(purpose string) (string, error) {
	dir := filepath.Join(os.TempDir(), newName()+"-"+purpose)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", fmt.Errorf("temp dir: %w", err)
	}
	return dir, nil
}
