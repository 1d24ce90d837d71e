package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// RemoveStale removes the network namespaces, cgroups and temporary
// directories of runs whose process is dead (their names carry the owner),
// and returns what it removed. State of live runs is left alone.
func RemoveStale() ([]string, error) {
	var removed []string
	var errs []error
	stale := func(dir string, remove func(string) error, what string) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range entries {
			o, ok := ParseName(e.Name())
			if !ok || o.Alive() {
				continue
			}
			p := filepath.Join(dir, e.Name())
			if err := remove(p); err != nil {
				errs = append(errs, err)
				continue
			}
			removed = append(removed, what+" "+p)
		}
	}
	stale(NetnsDir, RemoveNetns, "netns")
	if root, err := cgroup2Root(); err == nil {
		stale(root, RemoveCgroup, "cgroup")
	}
	stale(os.TempDir(), os.RemoveAll, "temp dir")
	return removed, errors.Join(errs...)
}

// Owned reports whether name (a path or a base name) was made by this
// package for a live or dead run.
func Owned(name string) bool {
	_, ok := ParseName(filepath.Base(name))
	return ok && strings.HasPrefix(filepath.Base(name), Prefix)
}
