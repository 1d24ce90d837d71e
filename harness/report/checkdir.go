package report

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// files lists every name WriteAll writes into its directory.
var files = []string{JSONFile, JUnitFile, SummaryFile, NavigatorFile, TelemetryFile, TranscriptsFile, ServerLogFile, ManifestFile}

// CheckDir reports whether WriteAll could write into dir, without writing
// anything: dir is a writable directory, or does not exist and its nearest
// existing ancestor is a writable directory; every report file already in
// dir is a regular file it may replace. A run checks this before it starts
// anything, so a bad --out costs nothing instead of the whole run.
//
// Writability is access(2) with W_OK|X_OK, which also answers for root
// (EROFS for a read-only mount, EACCES for an unprivileged user).
func CheckDir(dir string) error {
	if dir == "" {
		return fmt.Errorf("output directory: empty path")
	}
	p := filepath.Clean(dir)
	for {
		st, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
			parent := filepath.Dir(p)
			if parent == p {
				return fmt.Errorf("output directory %s: no existing ancestor", dir)
			}
			p = parent
			continue
		}
		if err != nil {
			return fmt.Errorf("output directory %s: %w", dir, err)
		}
		if !st.IsDir() {
			if p == filepath.Clean(dir) {
				return fmt.Errorf("output directory %s: is a file, not a directory", dir)
			}
			return fmt.Errorf("output directory %s: %s is a file, not a directory", dir, p)
		}
		if err := unix.Access(p, unix.W_OK|unix.X_OK); err != nil {
			return fmt.Errorf("output directory %s: %s is not writable: %w", dir, p, err)
		}
		break
	}
	if p != filepath.Clean(dir) {
		return nil // WriteAll creates dir; nothing in it yet
	}
	for _, name := range files {
		f := filepath.Join(p, name)
		st, err := os.Stat(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("output directory %s: %w", dir, err)
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("output directory %s: %s exists and is not a regular file", dir, name)
		}
		if err := unix.Access(f, unix.W_OK); err != nil {
			return fmt.Errorf("output directory %s: %s is not writable: %w", dir, name, err)
		}
	}
	return nil
}
