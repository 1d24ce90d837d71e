package atomics

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestShippedTechniqueIsClean keeps atomics/T1071.003 fit to contribute
// upstream: it loads and has no lint finding at all.
func TestShippedTechniqueIsClean(t *testing.T) {
	c, err := LoadDir(".")
	if err != nil {
		t.Fatalf("LoadDir(.): %v", err)
	}
	tech := c.Technique("T1071.003")
	if tech == nil {
		t.Fatalf("LoadDir(.): no T1071.003 among %d techniques", len(c.Techniques))
	}
	for _, f := range c.Lint() {
		t.Errorf("lint: %s", f)
	}
	if len(tech.Tests) < 6 {
		t.Errorf("T1071.003 has %d tests, want the 3 upstream-style ones and 3 Linux-native variants", len(tech.Tests))
	}
}

// TestLoadDirCheckoutRoot: LoadDir accepts the root of a checkout (here,
// the repository, which holds atomics/) as well as the atomics folder.
func TestLoadDirCheckoutRoot(t *testing.T) {
	c, err := LoadDir("..")
	if err != nil {
		t.Fatalf("LoadDir(..): %v", err)
	}
	if c.Technique("T1071.003") == nil || filepath.Base(c.Dir) != "atomics" {
		t.Errorf("LoadDir(..): Dir %q, %d techniques; want the atomics folder with T1071.003", c.Dir, len(c.Techniques))
	}
}

func TestSelect(t *testing.T) {
	c, err := LoadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		refs    []string
		want    string // IDs, comma-separated
		wantErr string
	}{
		{nil, "T1071.003-1,T1071.003-2,T1071.003-3,T1071.003-4,T1071.003-5,T1071.003-6", ""},
		{[]string{"T1071.003-2", "t1071.003-2"}, "T1071.003-2", ""},
		{[]string{"0F0A3B52-3D52-4D64-B116-460015A1FFEC"}, "T1071.003-6", ""},
		{[]string{"T1071.003:IMAP C2 channel with curl", "T1071.003-1"}, "T1071.003-3,T1071.003-1", ""},
		{[]string{"T1071.003-7"}, "", `no atomic test matches "T1071.003-7" (want a technique ID, a test ID like T1071.003-2, a GUID, or TECHNIQUE:NAME)`},
	}
	for _, tt := range tests {
		got, err := c.Select(tt.refs...)
		var ids []string
		for _, t := range got {
			ids = append(ids, t.ID())
		}
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("Select(%q): err %v, want %q", tt.refs, err, tt.wantErr)
			}
			continue
		}
		if err != nil || strings.Join(ids, ",") != tt.want {
			t.Errorf("Select(%q) = %v, %v; want %s", tt.refs, ids, err, tt.want)
		}
	}
}

func TestArgTypeCheck(t *testing.T) {
	tests := []struct {
		typ   ArgType
		value string
		ok    bool
	}{
		{Integer, "25", true}, {Integer, " 25 ", true}, {Integer, "-1", true}, {Integer, "2.5", false}, {Integer, "", false},
		{Float, "2.5", true}, {Float, "1e3", true}, {Float, "one", false},
		{URL, "127.0.0.1", true}, {URL, "::1", true}, {URL, "[::1]", true}, {URL, "[::1]:25", true},
		{URL, "mail.example.test", true}, {URL, "localhost:2525", true}, {URL, "smtp://mail.example.test:25", true},
		{URL, "https://example.test/a?b=c", true}, {URL, "", false}, {URL, "two words", false}, {URL, "http://", false},
		{String, "", true}, {Path, "C:\\x y", true},
	}
	for _, tt := range tests {
		err := tt.typ.Check(tt.value)
		if (err == nil) != tt.ok {
			t.Errorf("%s.Check(%q) = %v, want ok=%v", tt.typ, tt.value, err, tt.ok)
		}
	}
}
