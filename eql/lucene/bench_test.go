package lucene

import (
	"strings"
	"testing"
)

// Patterns shaped like those in Elastic's detection-rules.
var benchPatterns = []string{
	`.*[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}:[0-9]{1,5}.*`,
	`\.[a-z0-9_\-][a-z0-9_\-\.]{1,254}`,
	`.*\.exe&~(.*\\Windows\\.*)`,
}

func BenchmarkCompile(b *testing.B) {
	for _, p := range benchPatterns {
		b.Run(p[:12], func(b *testing.B) {
			for b.Loop() {
				if _, err := Compile(p, All|ASCIICaseInsensitive); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMatch(b *testing.B) {
	value := strings.Repeat("C:\\Users\\bob\\AppData\\", 5) + "10.0.0.1:4444 payload.exe"
	for _, p := range benchPatterns {
		re := MustCompile(p, All|ASCIICaseInsensitive)
		b.Run(p[:12], func(b *testing.B) {
			b.SetBytes(int64(len(value)))
			for b.Loop() {
				re.MatchString(value)
			}
		})
	}
}
