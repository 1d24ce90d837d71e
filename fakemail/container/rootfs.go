package container

import (
	"bufio"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// rootfs is what goes into the FROM-scratch image: the executable and, when
// it is dynamically linked, its ELF interpreter and every shared library it
// needs, at the paths the interpreter looks in.
type rootfs struct {
	Exe       string
	Size      int64
	Interp    string   // "" for a static executable
	Libraries []string // host paths, in the order found
}

func (r rootfs) String() string {
	s := fmt.Sprintf("%s (%.1f MB", r.Exe, float64(r.Size)/(1<<20))
	if r.Interp == "" {
		return s + ", static)"
	}
	return s + fmt.Sprintf(", dynamically linked: %s and %d libraries)", r.Interp, len(r.Libraries))
}

// libDirs are searched for DT_NEEDED libraries after the executable's own
// RUNPATH, as the dynamic loader's defaults and Debian's multiarch paths.
var libDirs = []string{
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
	"/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
	"/lib64", "/usr/lib64", "/lib", "/usr/lib",
}

// stageRootfs copies exe to dir/validate and, for a dynamic executable,
// its interpreter and libraries to the same paths under dir.
func stageRootfs(exe, dir string) (rootfs, error) {
	r := rootfs{Exe: exe}
	st, err := os.Stat(exe)
	if err != nil {
		return r, fmt.Errorf("container: %w", err)
	}
	r.Size = st.Size()
	if err := copyFile(exe, filepath.Join(dir, "validate"), 0o755); err != nil {
		return r, err
	}
	f, err := elf.Open(exe)
	if err != nil {
		return r, fmt.Errorf("container: %s: %w", exe, err)
	}
	defer f.Close()
	r.Interp = interpreter(f)
	if r.Interp == "" {
		return r, nil
	}
	if err := copyFile(r.Interp, filepath.Join(dir, r.Interp), 0o755); err != nil {
		return r, err
	}
	search := append(runpath(f), ldSoConf()...)
	search = append(search, libDirs...)
	seen := map[string]bool{}
	queue, err := f.ImportedLibraries()
	if err != nil {
		return r, fmt.Errorf("container: %s: %w", exe, err)
	}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		path := findLib(name, search)
		if path == "" {
			return r, fmt.Errorf("container: %s needs %s, not found in %s", exe, name, strings.Join(search, ":"))
		}
		if path == r.Interp {
			continue
		}
		if err := copyFile(path, filepath.Join(dir, path), 0o755); err != nil {
			return r, err
		}
		r.Libraries = append(r.Libraries, path)
		if lf, err := elf.Open(path); err == nil {
			more, _ := lf.ImportedLibraries()
			lf.Close()
			queue = append(queue, more...)
		}
	}
	return r, nil
}

func interpreter(f *elf.File) string {
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b, err := io.ReadAll(p.Open())
			if err != nil {
				return ""
			}
			return strings.TrimRight(string(b), "\x00")
		}
	}
	return ""
}

func runpath(f *elf.File) []string {
	var dirs []string
	for _, tag := range []elf.DynTag{elf.DT_RUNPATH, elf.DT_RPATH} {
		vals, _ := f.DynString(tag)
		for _, v := range vals {
			for _, d := range strings.Split(v, ":") {
				if d != "" && !strings.Contains(d, "$") {
					dirs = append(dirs, d)
				}
			}
		}
	}
	return dirs
}

// ldSoConf reads the directories of /etc/ld.so.conf.d/*.conf (one level of
// include, as Debian ships it).
func ldSoConf() []string {
	files, _ := filepath.Glob("/etc/ld.so.conf.d/*.conf")
	var dirs []string
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if strings.HasPrefix(line, "/") {
				dirs = append(dirs, line)
			}
		}
		f.Close()
	}
	return dirs
}

func findLib(name string, dirs []string) string {
	if strings.Contains(name, "/") {
		if _, err := os.Stat(name); err == nil {
			return name
		}
		return ""
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// copyFile copies src's content (following symlinks) to dst, creating
// dst's directory.
func copyFile(src, dst string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("container: %w", err)
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("container: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("container: %w", err)
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}
