package harness

import (
	"testing"
	"time"

	"github.com/purpleharness/purpleharness/ecs"
)

// FuzzExplain feeds arbitrary queries to the explanation: whatever parses
// must be explained without a panic, with a non-empty summary and counts
// that add up.
func FuzzExplain(f *testing.F) {
	for _, q := range []string{
		`sequence by host.name, process.entity_id with maxspan=24h [network where event.type == "connection_attempted" and destination.port in (25, 110) and not process.name in~ ("a.exe")] with runs=3`,
		`network where event.action : "connection_*" and destination.port >= 25`,
		`sequence by process.parent.entity_id [process where true] [network where ?destination.port == 110]`,
		`sample by host.name [network where true] [process where true]`,
		`any where stringContains(process.name, "nc") or process.pid % 2 == 0`,
	} {
		f.Add(q)
	}
	docs := render(f, ecs.Endpoint,
		conn{100, 10, "/usr/bin/curl", 110, 0}, conn{100, 10, "/usr/bin/curl", 143, time.Second},
		conn{101, 10, "/usr/bin/nc.openbsd", 25, 2 * time.Second}, conn{102, 11, "/tmp/Thunderbird.EXE", 993, 25 * time.Hour})
	f.Fuzz(func(t *testing.T, query string) {
		shape, err := Embedded{}.Shape(query)
		if err != nil {
			return
		}
		e := analyse(shape, docs)
		if e.Summary == "" {
			t.Fatalf("empty summary for %q", query)
		}
		for _, st := range e.Stages {
			if st.Matched > st.Events {
				t.Fatalf("%q: %d matched of %d events", query, st.Matched, st.Events)
			}
			for _, c := range st.Conditions {
				if c.True+c.Null > c.Of {
					t.Fatalf("%q: condition %q true %d + null %d > of %d", query, c.Source, c.True, c.Null, c.Of)
				}
			}
		}
	})
}
