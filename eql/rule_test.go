package eql

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"strings"
	"testing"

	"github.com/purpleharness/purpleharness/ecs"
)

// mailRule is the T1071.003 rule the project ships.
const mailRule = `sequence by host.name, process.entity_id with maxspan=24h
  [network where event.type == "connection_attempted" and
   destination.port in (25, 465, 587, 110, 995, 143, 993) and
   not process.name in~ ("outlook.exe", "thunderbird.exe", "mailclient.exe", "em client.exe", "msedge.exe", "chrome.exe", "firefox.exe", "safari.exe")] with runs=3`

// netEvent builds an Elastic-Defend-shaped network event (nested objects,
// event.category as an array, as Defend sends it).
func netEvent(ts string, host, entity, name string, port int) ecs.Document {
	d := ecs.Document{
		"@timestamp":  ts,
		"event":       map[string]any{"category": []any{"network"}, "type": []any{"start", "connection_attempted"}, "action": "connection_attempted"},
		"host":        map[string]any{"name": host},
		"destination": map[string]any{"port": port, "ip": "127.0.0.1"},
	}
	p := map[string]any{}
	if entity != "" {
		p["entity_id"] = entity
	}
	if name != "" {
		p["name"] = name
	}
	d["process"] = p
	return d
}

func docs(ds ...ecs.Document) iter.Seq2[ecs.Document, error] {
	return func(yield func(ecs.Document, error) bool) {
		for _, d := range ds {
			if !yield(d, nil) {
				return
			}
		}
	}
}

func ids(r *Response) []string {
	var out []string
	for _, h := range r.Hits.Events {
		out = append(out, h.ID)
	}
	for _, s := range r.Hits.Sequences {
		var seq []string
		for _, h := range s.Events {
			seq = append(seq, h.ID)
		}
		out = append(out, fmt.Sprint(seq))
	}
	return out
}

func TestMailRule(t *testing.T) {
	t0 := "2026-11-26T10:00:0%dZ"
	ts := func(i int) string { return fmt.Sprintf(t0, i) }
	tests := []struct {
		name   string
		events []ecs.Document
		want   []string
		keys   [][]any
	}{
		{
			name: "three connections from one process fire",
			events: []ecs.Document{
				netEvent(ts(1), "h1", "p1", "nc", 25),
				netEvent(ts(2), "h1", "p1", "nc", 110),
				netEvent(ts(3), "h1", "p1", "nc", 143),
			},
			want: []string{"[0 1 2]"},
			keys: [][]any{{"h1", "p1"}},
		},
		{
			name: "two connections stay silent",
			events: []ecs.Document{
				netEvent(ts(1), "h1", "p1", "nc", 25),
				netEvent(ts(2), "h1", "p1", "nc", 110),
			},
		},
		{
			name: "mail client is excluded case-insensitively",
			events: []ecs.Document{
				netEvent(ts(1), "h1", "p1", "Thunderbird.EXE", 25),
				netEvent(ts(2), "h1", "p1", "Thunderbird.EXE", 110),
				netEvent(ts(3), "h1", "p1", "Thunderbird.EXE", 143),
			},
		},
		{
			name: "missing process.name is not excluded",
			events: []ecs.Document{
				netEvent(ts(1), "h1", "p1", "", 25),
				netEvent(ts(2), "h1", "p1", "", 110),
				netEvent(ts(3), "h1", "p1", "", 143),
			},
			want: []string{"[0 1 2]"},
			keys: [][]any{{"h1", "p1"}},
		},
		{
			name: "events without the join key never join",
			events: []ecs.Document{
				netEvent(ts(1), "h1", "", "nc", 25),
				netEvent(ts(2), "h1", "", "nc", 110),
				netEvent(ts(3), "h1", "", "nc", 143),
			},
		},
		{
			name: "different processes do not join",
			events: []ecs.Document{
				netEvent(ts(1), "h1", "p1", "nc", 25),
				netEvent(ts(2), "h1", "p2", "nc", 110),
				netEvent(ts(3), "h1", "p1", "nc", 143),
			},
		},
		{
			name: "non-mail port does not count",
			events: []ecs.Document{
				netEvent(ts(1), "h1", "p1", "nc", 25),
				netEvent(ts(2), "h1", "p1", "nc", 80),
				netEvent(ts(3), "h1", "p1", "nc", 143),
			},
		},
		{
			// Every event matches all three expanded stages. As in
			// Elasticsearch's SequenceMatcher, a stage-N hit continues the
			// latest stage-(N-1) sequence that ended strictly before it, so
			// consecutive windows overlap.
			name: "six connections make overlapping sequences",
			events: []ecs.Document{
				netEvent(ts(1), "h1", "p1", "nc", 25),
				netEvent(ts(2), "h1", "p1", "nc", 25),
				netEvent(ts(3), "h1", "p1", "nc", 25),
				netEvent(ts(4), "h1", "p1", "nc", 25),
				netEvent(ts(5), "h1", "p1", "nc", 25),
				netEvent(ts(6), "h1", "p1", "nc", 25),
			},
			want: []string{"[0 1 2]", "[1 2 3]", "[2 3 4]", "[3 4 5]"},
			keys: [][]any{{"h1", "p1"}, {"h1", "p1"}, {"h1", "p1"}, {"h1", "p1"}},
		},
		{
			name: "beyond maxspan is silent, exactly maxspan fires",
			events: []ecs.Document{
				netEvent("2026-11-25T10:00:00Z", "h1", "p1", "nc", 25),
				netEvent("2026-11-25T11:00:00Z", "h1", "p1", "nc", 25),
				netEvent("2026-11-26T10:00:00.001Z", "h1", "p1", "nc", 25),
				netEvent("2026-11-26T12:00:00Z", "h2", "p1", "nc", 25),
				netEvent("2026-11-26T13:00:00Z", "h2", "p1", "nc", 25),
				netEvent("2026-11-27T12:00:00Z", "h2", "p1", "nc", 25),
			},
			want: []string{"[3 4 5]"},
			keys: [][]any{{"h2", "p1"}},
		},
		{
			name: "unsorted input is sorted first",
			events: []ecs.Document{
				netEvent(ts(3), "h1", "p1", "nc", 143),
				netEvent(ts(1), "h1", "p1", "nc", 25),
				netEvent(ts(2), "h1", "p1", "nc", 110),
			},
			want: []string{"[1 2 0]"},
			keys: [][]any{{"h1", "p1"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := Search(context.Background(), Request{Query: mailRule}, docs(tc.events...))
			if err != nil {
				t.Fatalf("Search: %v", err)
			}
			if sorted := slices.IsSortedFunc(tc.events, func(a, b ecs.Document) int {
				return strings.Compare(a["@timestamp"].(string), b["@timestamp"].(string))
			}); sorted {
				streamed, err := Search(context.Background(), Request{Query: mailRule}, docs(tc.events...), Sorted())
				if err != nil {
					t.Fatalf("Search(Sorted): %v", err)
				}
				if a, b := ids(resp), ids(streamed); !slices.Equal(a, b) {
					t.Errorf("sorting path %v, streaming path %v", a, b)
				}
			}
			if got := ids(resp); !slices.Equal(got, tc.want) {
				t.Errorf("Search(mailRule) sequences = %v, want %v", got, tc.want)
			}
			var keys [][]any
			for _, s := range resp.Hits.Sequences {
				keys = append(keys, s.JoinKeys)
			}
			if fmt.Sprint(keys) != fmt.Sprint(tc.keys) {
				t.Errorf("join keys = %v, want %v", keys, tc.keys)
			}
			if resp.Hits.Total.Value != len(tc.want) {
				t.Errorf("total = %d, want %d", resp.Hits.Total.Value, len(tc.want))
			}
			if _, err := json.Marshal(resp); err != nil {
				t.Errorf("marshal: %v", err)
			}
		})
	}
}

func TestMailRuleStages(t *testing.T) {
	q, err := Parse(mailRule)
	if err != nil {
		t.Fatal(err)
	}
	if q.Kind != SequenceQuery || q.MaxSpanText != "24h" || fmt.Sprint(q.Keys()) != "[host.name process.entity_id]" {
		t.Fatalf("kind %s maxspan %s keys %v", q.Kind, q.MaxSpanText, q.Keys())
	}
	st := q.Stages()
	if len(st) != 1 || st[0].Runs != 3 || st[0].Category != "network" || len(st[0].Conds) != 3 {
		t.Fatalf("stages = %+v", st)
	}
	ev := netEvent("2026-11-26T10:00:00Z", "h1", "p1", "Thunderbird.EXE", 25)
	want := []Tri{True, True, False}
	for i, c := range st[0].Conds {
		if got := c.Eval(ev); got != want[i] {
			t.Errorf("cond %d %q at %s: Eval = %s, want %s", i, c.Text, c.Pos, got, want[i])
		}
	}
	if c := st[0].Conds[2]; c.Pos.Line != 4 || c.Pos.Col != 4 || c.Text[:20] != "not process.name in~" {
		t.Errorf("cond 2 at %s %q", c.Pos, c.Text)
	}
	if got := st[0].Conds[2].Explain(ev); got != `process.name="Thunderbird.EXE"` {
		t.Errorf("Explain = %s", got)
	}
	if got := st[0].Eval(ev, ""); got != False {
		t.Errorf("Stage.Eval(thunderbird) = %s, want false", got)
	}
	nc := netEvent("2026-11-26T10:00:00Z", "h1", "p1", "", 25)
	if got := st[0].Eval(nc, ""); got != True {
		t.Errorf("Stage.Eval(no process.name) = %s, want true", got)
	}
	if st[0].CategoryMatches(nc, "event.kind") {
		t.Errorf("CategoryMatches on a missing field = true")
	}
}

func TestSequenceReport(t *testing.T) {
	stream := []ecs.Document{
		netEvent("2026-11-25T10:00:00Z", "h1", "p1", "nc", 25),
		netEvent("2026-11-25T10:00:01Z", "h1", "p1", "nc", 110),
		netEvent("2026-11-25T10:00:02Z", "h1", "p2", "Thunderbird.exe", 25),
		netEvent("2026-11-25T10:00:03Z", "h2", "p3", "nc", 25),
		netEvent("2026-11-27T10:00:03Z", "h2", "p3", "nc", 25),
	}
	var rep SequenceReport
	resp, err := Search(context.Background(), Request{Query: mailRule}, docs(stream...), WithSequenceReport(&rep))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Hits.Total.Value != 0 {
		t.Fatalf("total = %d, want 0", resp.Hits.Total.Value)
	}
	if fmt.Sprint(rep.StageHits) != "[4 4 4]" || rep.MaxspanRejections != 1 {
		t.Errorf("report hits %v maxspan rejections %d, want [4 4 4] and 1", rep.StageHits, rep.MaxspanRejections)
	}
	var got []string
	for _, k := range rep.Keys {
		var evs []string
		for _, h := range k.Events {
			evs = append(evs, h.ID)
		}
		got = append(got, fmt.Sprint(k.JoinKeys, k.Stages, evs))
	}
	want := []string{"[h1 p1] 2 [0 1]", "[h2 p3] 1 [3]"}
	if !slices.Equal(got, want) {
		t.Errorf("report keys = %q, want %q", got, want)
	}
}

func TestProgramRunReuse(t *testing.T) {
	q, err := Parse(mailRule)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(q)
	if err != nil {
		t.Fatal(err)
	}
	fire := []ecs.Document{
		netEvent("2026-11-26T10:00:01Z", "h1", "p1", "nc", 25),
		netEvent("2026-11-26T10:00:02Z", "h1", "p1", "nc", 110),
		netEvent("2026-11-26T10:00:03Z", "h1", "p1", "nc", 143),
	}
	for i, want := range []int{1, 0, 1} {
		stream := fire
		if want == 0 {
			stream = fire[:2]
		}
		resp, err := p.Run(context.Background(), Request{Size: 5}, Events(docs(stream...)), WithIndex("logs"))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Hits.Total.Value != want {
			t.Errorf("run %d: %d sequences, want %d", i, resp.Hits.Total.Value, want)
		}
	}
	if _, err := p.Run(context.Background(), Request{ResultPosition: "middle"}, Events(docs(fire...))); err == nil {
		t.Error("Run accepted result_position middle")
	}
}
