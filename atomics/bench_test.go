package atomics

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchCatalog writes n technique folders, each a copy of the shipped
// T1071.003 file under its own ID: about the size of an upstream checkout
// (upstream has some 330 technique files) when n is 330.
func benchCatalog(b *testing.B, n int) string {
	b.Helper()
	src, err := os.ReadFile("T1071.003/T1071.003.yaml")
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("T%04d", 1000+i)
		body := strings.ReplaceAll(string(src), "T1071.003", id)
		if err := os.MkdirAll(filepath.Join(dir, id), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, id, id+".yaml"), []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

func BenchmarkLoadDir(b *testing.B) {
	dir := benchCatalog(b, 330)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := LoadDir(dir); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLint(b *testing.B) {
	c, err := LoadDir(benchCatalog(b, 330))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Lint()
	}
}

func BenchmarkParse(b *testing.B) {
	src, err := os.ReadFile("T1071.003/T1071.003.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(src)))
	for i := 0; i < b.N; i++ {
		if _, err := Parse("T1071.003.yaml", src); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRunOverhead is the cost Run adds around a trivial sh command:
// temporary directory, session setup, /proc scan for leftovers.
func BenchmarkRunOverhead(b *testing.B) {
	tech, err := Parse("b.yaml", []byte("attack_technique: T9999\ndisplay_name: Bench\natomic_tests:\n- name: t\n  description: d\n  supported_platforms: [linux]\n  executor:\n    name: sh\n    command: 'true'\n"))
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		res, err := Run(b.Context(), tech.Tests[0], RunOptions{Platform: Linux})
		if err != nil || res.Status != Succeeded {
			b.Fatalf("Run: %v %s %s", err, res.Status, res.Reason)
		}
	}
}
