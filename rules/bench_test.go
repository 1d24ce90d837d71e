package rules

import (
	"os"
	"strings"
	"testing"
)

// BenchmarkParseTOML loads the published rule: TOML decoding plus locating
// the query's source positions.
func BenchmarkParseTOML(b *testing.B) {
	data, err := os.ReadFile("t1071_003_mail_c2_published.toml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := parseTOML("r.toml", data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseNDJSON loads a 1,000-rule Kibana export.
func BenchmarkParseNDJSON(b *testing.B) {
	line, err := os.ReadFile("testdata/export.ndjson")
	if err != nil {
		b.Fatal(err)
	}
	first := strings.SplitN(string(line), "\n", 2)[0] + "\n"
	data := []byte(strings.Repeat(first, 1000))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if rs, err := parseNDJSON("r.ndjson", data); err != nil || len(rs) != 1000 {
			b.Fatal(len(rs), err)
		}
	}
}
