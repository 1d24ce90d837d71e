package report

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestCheckDir(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "afile")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	blocked := filepath.Join(tmp, "blocked")
	if err := os.MkdirAll(filepath.Join(blocked, JSONFile), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir, wantErr string
	}{
		{"existing dir", tmp, ""},
		{"new nested dir", filepath.Join(tmp, "a", "b"), ""},
		{"a file", file, "is a file, not a directory"},
		{"under a file", filepath.Join(file, "sub"), file + " is a file, not a directory"},
		{"report name taken by a dir", blocked, "report.json exists and is not a regular file"},
		{"empty", "", "empty path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckDir(tc.dir)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckDir(%q) = %v, want nil", tc.dir, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("CheckDir(%q) = %v, want an error containing %q", tc.dir, err, tc.wantErr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(tmp, "a")); !os.IsNotExist(err) {
		t.Errorf("CheckDir created %s (stat: %v); it must write nothing", filepath.Join(tmp, "a"), err)
	}
}

// TestCheckDirCoversWriteAll keeps CheckDir's list of names in step with
// what WriteAll writes.
func TestCheckDirCoversWriteAll(t *testing.T) {
	dir := t.TempDir()
	paths, err := WriteAll(dir, loadResult(t))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range paths {
		got = append(got, filepath.Base(p))
	}
	want := slices.Clone(files)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("WriteAll wrote %v; CheckDir checks %v", got, want)
	}
}
