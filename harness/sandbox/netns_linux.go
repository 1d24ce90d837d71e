package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// NetnsDir is where named network namespaces live, as `ip netns` keeps
// them: `ip netns exec purpleharness-… ss -ltn` shows a run's listeners.
const NetnsDir = "/run/netns"

// Netns is a network namespace of the run's own, bind-mounted at
// NetnsDir/Name so that it outlives no one by accident and can be named.
type Netns struct {
	Name string
	Path string
	fd   int
}

// NewNetns creates a network namespace with its loopback up.
func NewNetns() (*Netns, error) {
	name := newName()
	if err := os.MkdirAll(NetnsDir, 0o755); err != nil {
		return nil, fmt.Errorf("netns: %w", err)
	}
	path := filepath.Join(NetnsDir, name)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return nil, fmt.Errorf("netns: %w", err)
	}
	f.Close()
	n := &Netns{Name: name, Path: path, fd: -1}
	if err := n.create(); err != nil {
		n.Close()
		return nil, err
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("netns: open %s: %w", path, err)
	}
	n.fd = fd
	if err := n.Do(setLoopbackUp); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// create unshares a new network namespace on a locked thread, bind-mounts
// it at n.Path and puts the thread back into the namespace it came from.
func (n *Netns) create() error {
	errc := make(chan error, 1)
	// A goroutine of its own: should the thread fail to return to its
	// namespace, it exits locked and the runtime discards the thread.
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netns: %w", err)
			return
		}
		defer unix.Close(orig)
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netns: unshare: %w", err)
			return
		}
		err = unix.Mount("/proc/thread-self/ns/net", n.Path, "", unix.MS_BIND, "")
		if err != nil {
			err = fmt.Errorf("netns: bind-mount %s: %w", n.Path, err)
		}
		if serr := unix.Setns(orig, unix.CLONE_NEWNET); serr != nil {
			errc <- errors.Join(err, fmt.Errorf("netns: return to the host namespace: %w", serr))
			return // thread stays locked and dies with the goroutine
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

// Do runs f on a thread that is inside the namespace. Sockets f creates
// belong to the namespace for their whole life; processes f starts (with
// os/exec, on this goroutine) are born in it. Goroutines f starts run
// elsewhere, in the host's namespace.
func (n *Netns) Do(f func() error) error {
	if n == nil {
		return f()
	}
	runtime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: %w", err)
	}
	defer unix.Close(orig)
	if err := unix.Setns(n.fd, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: enter %s: %w", n.Name, err)
	}
	ferr := f()
	if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: the runtime must never hand a thread
		// in the run's namespace to another goroutine. It is discarded
		// when this goroutine exits.
		return errors.Join(ferr, fmt.Errorf("netns: leave %s: %w", n.Name, err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// Close unmounts and removes the namespace's name. The namespace itself
// goes when the last process and socket in it are gone.
func (n *Netns) Close() error {
	if n.fd >= 0 {
		unix.Close(n.fd)
		n.fd = -1
	}
	return RemoveNetns(n.Path)
}

// RemoveNetns unmounts and deletes a named namespace; a missing one is no
// error.
func RemoveNetns(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("netns: unmount %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("netns: %w", err)
	}
	return nil
}

func setLoopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("netns: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("netns: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("netns: lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("netns: set lo up: %w", err)
	}
	return nil
}

// AddAddress gives the namespace's loopback one more address (a /32 or
// /128), so servers can listen on it and clients reach it without any
// route out of the namespace. Addresses in 127.0.0.0/8 and ::1 are already
// local and need nothing.
func (n *Netns) AddAddress(ip netip.Addr) error {
	ip = ip.Unmap()
	if ip.IsLoopback() {
		return nil
	}
	return n.Do(func() error { return addAddress(ip) })
}

func addAddress(ip netip.Addr) error {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		return fmt.Errorf("netns: %w", err)
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netns: netlink: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netns: netlink: %w", err)
	}
	family, bits := unix.AF_INET, 32
	if ip.Is6() {
		family, bits = unix.AF_INET6, 128
	}
	raw := ip.AsSlice()
	attr := func(typ uint16, data []byte) []byte {
		b := make([]byte, unix.SizeofRtAttr, rtaAlign(unix.SizeofRtAttr+len(data)))
		binary.NativeEndian.PutUint16(b[0:], uint16(unix.SizeofRtAttr+len(data)))
		binary.NativeEndian.PutUint16(b[2:], typ)
		b = append(b, data...)
		return b[:cap(b)]
	}
	body := make([]byte, unix.SizeofIfAddrmsg)
	body[0] = byte(family)
	body[1] = byte(bits)
	body[3] = unix.RT_SCOPE_UNIVERSE
	binary.NativeEndian.PutUint32(body[4:], uint32(lo.Index))
	body = append(body, attr(unix.IFA_LOCAL, raw)...)
	body = append(body, attr(unix.IFA_ADDRESS, raw)...)
	msg := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(body))
	binary.NativeEndian.PutUint32(msg[0:], uint32(unix.SizeofNlMsghdr+len(body)))
	binary.NativeEndian.PutUint16(msg[4:], unix.RTM_NEWADDR)
	binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_CREATE|unix.NLM_F_EXCL)
	binary.NativeEndian.PutUint32(msg[8:], 1)
	msg = append(msg, body...)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netns: add %s: %w", ip, err)
	}
	buf := make([]byte, 4096)
	nr, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return fmt.Errorf("netns: add %s: %w", ip, err)
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:nr])
	if err != nil {
		return fmt.Errorf("netns: add %s: %w", ip, err)
	}
	for _, m := range msgs {
		if m.Header.Type == unix.NLMSG_ERROR && len(m.Data) >= 4 {
			if e := int32(binary.NativeEndian.Uint32(m.Data)); e != 0 {
				return fmt.Errorf("netns: add %s/%d to lo: %w", ip, bits, unix.Errno(-e))
			}
		}
	}
	return nil
}

func rtaAlign(n int) int { return (n + unix.RTA_ALIGNTO - 1) &^ (unix.RTA_ALIGNTO - 1) }
