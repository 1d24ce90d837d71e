package main

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
)

// FuzzReadEvents feeds arbitrary input to the events reader of "validate
// query": it never panics, every error is an *eventsError, and an NDJSON
// error's line lies inside the input.
func FuzzReadEvents(f *testing.F) {
	for _, s := range []string{
		`{"a":1}` + "\n" + `{"b":2}`,
		"\n\n  {\"a\": tru}\n",
		`[{"a":1}, {"b":[1,2]}]`,
		`[{"a":1}, 3]`,
		"\uFEFF{\"a\":1}",
		`[`, `]`, `{"a":`, "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		for d, err := range readEvents("f", bytes.NewReader(data)) {
			if err != nil {
				var ee *eventsError
				if !errors.As(err, &ee) {
					t.Fatalf("error %v is not an *eventsError", err)
				}
				if line, convErr := strconv.Atoi(strings.SplitN(ee.pos, ":", 2)[0]); convErr == nil {
					if lines := bytes.Count(data, []byte("\n")) + 1; line < 1 || line > lines {
						t.Fatalf("error at line %d of a %d-line input: %v", line, lines, err)
					}
				}
				return
			}
			if d == nil {
				t.Fatal("nil document without an error")
			}
			n++
		}
		if n > len(data) {
			t.Fatalf("%d documents from %d bytes", n, len(data))
		}
	})
}
