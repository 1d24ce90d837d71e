package ecs

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestReadTwoObjectsOnALine: an NDJSON line holding two objects is an
// error positioned at the second one, not an event read in part.
func TestReadTwoObjectsOnALine(t *testing.T) {
	events := ReadEvents("two.ndjson", strings.NewReader("{\"a\":1}\n{\"a\":2} {\"b\":3}\n"))
	var got []string
	for d, err := range events {
		if err != nil {
			got = append(got, err.Error())
			break
		}
		got = append(got, fmt.Sprint(d["a"]))
	}
	want := []string{"1", "two.ndjson:2:9: decode document: invalid character '{' after top-level value"}
	if !slices.Equal(got, want) {
		t.Errorf("read %q, want %q", got, want)
	}
}
