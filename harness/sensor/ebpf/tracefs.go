package ebpf

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Attaching a classic tracepoint reads its id from tracefs. Where no
// tracefs is mounted, the sensor mounts one at its canonical place for the
// attach only and unmounts it right after: the links hold the tracepoints,
// not the mount. Every sensor on the host (other runs, parallel tests)
// attaches under one lock, so none unmounts the tracefs another is reading.
//
// A process killed between mount and unmount leaves the marker file; the
// next holder of the lock (a later sensor, or the run's reaper through
// ReapTracefs) sees it and unmounts.
const (
	tracefsMount = "/sys/kernel/tracing"
	// tracefsLockPath is locked with flock(2). A directory that always
	// exists, and whose inode a tracefs mount does not replace.
	tracefsLockPath = "/sys/kernel"
	// tracefsMarker exists exactly while a tracefs this package mounted is
	// mounted.
	tracefsMarker = "/run/purpleharness-tracefs.mounted"
)

// tracefsPaths are where cilium/ebpf looks for tracefs by path.
var tracefsPaths = []string{tracefsMount + "/events", "/sys/kernel/debug/tracing/events"}

func tracefsReachable() bool {
	for _, p := range tracefsPaths {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}

// lockTracefs takes the host-wide attach lock; the returned function
// releases it.
func lockTracefs() (func(), error) {
	fd, err := unix.Open(tracefsLockPath, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("tracefs lock: open %s: %w", tracefsLockPath, err)
	}
	for {
		err = unix.Flock(fd, unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tracefs lock: flock %s: %w", tracefsLockPath, err)
	}
	return func() { unix.Close(fd) }, nil
}

// withTracefs runs attach with a tracefs reachable, mounting one for the
// call when none is.
func withTracefs(attach func() error) error {
	unlock, err := lockTracefs()
	if err != nil {
		return err
	}
	defer unlock()
	_, statErr := os.Stat(tracefsMarker)
	stale := statErr == nil
	if !stale && tracefsReachable() {
		return attach()
	}
	if !tracefsReachable() {
		// The marker first: should this process die after the mount, the
		// next holder of the lock knows the mount is ours.
		if err := os.WriteFile(tracefsMarker, []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o644); err != nil {
			return fmt.Errorf("tracefs: %w", err)
		}
		if err := unix.Mount("tracefs", tracefsMount, "tracefs", 0, ""); err != nil {
			os.Remove(tracefsMarker)
			return fmt.Errorf("mount tracefs at %s: %v", tracefsMount, err)
		}
	}
	aerr := attach()
	return errors.Join(aerr, unmountTracefs())
}

// unmountTracefs removes the tracefs this package mounted, then its
// marker. The caller holds the lock.
func unmountTracefs() error {
	if err := unix.Unmount(tracefsMount, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount tracefs at %s: %w", tracefsMount, err)
	}
	if err := os.Remove(tracefsMarker); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("tracefs: %w", err)
	}
	return nil
}

// ReapTracefs unmounts a tracefs that a sensor mounted and could not
// unmount because its process died. It does nothing when no such mount
// exists, and waits for any sensor attaching now.
func ReapTracefs() error {
	if _, err := os.Stat(tracefsMarker); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	unlock, err := lockTracefs()
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(tracefsMarker); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return unmountTracefs()
}
