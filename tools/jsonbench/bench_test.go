package jsonbench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/bytedance/sonic"
	"github.com/minio/simdjson-go"
	"github.com/valyala/fastjson"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/eql"
)

// The input: the committed recording's Defend events (rendered by our
// renderer: process, parent, user, group, host, agent and Ext objects),
// repeated to lines events.
const lines = 50_000

const rule = `sequence by host.name, process.entity_id with maxspan=24h
  [network where event.action == "connection_attempted" and
   destination.port in (25, 465, 587, 110, 995, 143, 993) and
   not process.name in~ ("outlook.exe", "thunderbird.exe")] with runs=3`

func input(tb testing.TB) (data [][]byte, fields []string) {
	raw, err := os.ReadFile("../../testdata/recorded-run/telemetry.ndjson")
	if err != nil {
		tb.Fatal(err)
	}
	src := bytes.Split(bytes.TrimSpace(raw), []byte("\n"))
	for i := 0; len(data) < lines; i++ {
		data = append(data, src[i%len(src)])
	}
	req := eql.Request{Query: rule}.WithDefaults()
	q, err := eql.Parse(req.Query)
	if err != nil {
		tb.Fatal(err)
	}
	fields, ok := eql.SearchFields(q, req, nil)
	if !ok {
		tb.Fatal("no projection")
	}
	return data, fields
}

// A projector returns, for one line, each field's value as encoding/json
// would decode it (json.Number for numbers), absent fields left out.
type projector struct {
	name string
	// strict: refuses what encoding/json refuses, by itself
	strict bool
	new    func(fields []string) func(line []byte) (map[string]any, error)
}

var projectors = []projector{
	{"purpleharness ecs.Projection (flatScan)", true, func(fields []string) func([]byte) (map[string]any, error) {
		p := ecs.NewProjection(fields)
		return func(line []byte) (map[string]any, error) {
			d, err := p.Decode(line)
			if err != nil {
				return nil, err
			}
			return pick(d, fields), nil
		}
	}},
	{"encoding/json, whole document (ecs.Decode)", true, func(fields []string) func([]byte) (map[string]any, error) {
		return func(line []byte) (map[string]any, error) {
			d, err := ecs.Decode(line)
			if err != nil {
				return nil, err
			}
			return pick(d, fields), nil
		}
	}},
	{"encoding/json, into a struct of the fields", true, func(fields []string) func([]byte) (map[string]any, error) {
		return func(line []byte) (map[string]any, error) {
			var e mailEvent
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.UseNumber()
			if err := dec.Decode(&e); err != nil {
				return nil, err
			}
			if len(bytes.TrimSpace(line[dec.InputOffset():])) > 0 {
				return nil, errors.New("data after the object")
			}
			return e.fields(), nil
		}
	}},
	{"github.com/valyala/fastjson, Parser + Get", false, func(fields []string) func([]byte) (map[string]any, error) {
		var p fastjson.Parser
		paths := split(fields)
		return func(line []byte) (map[string]any, error) {
			v, err := p.ParseBytes(line)
			if err != nil {
				return nil, err
			}
			out := map[string]any{}
			for i, f := range fields {
				if x := v.Get(paths[i]...); x != nil {
					out[f] = fromJSON(x.MarshalTo(nil))
				}
			}
			return out, nil
		}
	}},
	{"github.com/bytedance/sonic, Get per field", false, func(fields []string) func([]byte) (map[string]any, error) {
		paths := split(fields)
		return func(line []byte) (map[string]any, error) {
			out := map[string]any{}
			s := string(line)
			for i, f := range fields {
				path := make([]any, len(paths[i]))
				for j, k := range paths[i] {
					path[j] = k
				}
				n, err := sonic.GetFromString(s, path...)
				if err != nil {
					continue // not found (or bad JSON: sonic does not say which)
				}
				raw, err := n.Raw()
				if err != nil {
					return nil, err
				}
				out[f] = fromJSON([]byte(raw))
			}
			return out, nil
		}
	}},
	{"github.com/bytedance/sonic, Unmarshal into the struct", false, func(fields []string) func([]byte) (map[string]any, error) {
		api := sonic.Config{UseNumber: true}.Froze()
		return func(line []byte) (map[string]any, error) {
			var e mailEvent
			if err := api.Unmarshal(line, &e); err != nil {
				return nil, err
			}
			return e.fields(), nil
		}
	}},
	{"github.com/minio/simdjson-go, Parse + FindElement", false, func(fields []string) func([]byte) (map[string]any, error) {
		var pj *simdjson.ParsedJson
		var el *simdjson.Element
		paths := split(fields)
		return func(line []byte) (map[string]any, error) {
			var err error
			if pj, err = simdjson.Parse(line, pj); err != nil {
				return nil, err
			}
			it := pj.Iter()
			it.Advance()
			out := map[string]any{}
			for i, f := range fields {
				if el, err = it.FindElement(el, paths[i]...); err != nil {
					continue
				}
				raw, err := el.Iter.MarshalJSON()
				if err != nil {
					return nil, err
				}
				out[f] = fromJSON(raw)
			}
			return out, nil
		}
	}},
}

// mailEvent is the rule's fields as a struct (what a program that knows
// its schema would decode into).
type mailEvent struct {
	ID        string `json:"_id"`
	Timestamp any    `json:"@timestamp"`
	Event     struct {
		Action   any `json:"action"`
		Category any `json:"category"`
	} `json:"event"`
	Destination struct {
		Port any `json:"port"`
	} `json:"destination"`
	Process struct {
		Name     any `json:"name"`
		EntityID any `json:"entity_id"`
	} `json:"process"`
	Host struct {
		Name any `json:"name"`
	} `json:"host"`
}

func (e *mailEvent) fields() map[string]any {
	out := map[string]any{}
	set := func(k string, v any) {
		if v != nil {
			out[k] = v
		}
	}
	set("@timestamp", e.Timestamp)
	set("event.action", e.Event.Action)
	set("event.category", e.Event.Category)
	set("destination.port", e.Destination.Port)
	set("process.name", e.Process.Name)
	set("process.entity_id", e.Process.EntityID)
	set("host.name", e.Host.Name)
	return out
}

func split(fields []string) [][]string {
	out := make([][]string, len(fields))
	for i, f := range fields {
		out[i] = strings.Split(f, ".")
	}
	return out
}

// pick is what a projected or decoded document holds on fields.
func pick(d ecs.Document, fields []string) map[string]any {
	out := map[string]any{}
	for _, f := range fields {
		if v, ok := d.Lookup(f); ok && v != nil {
			out[f] = v
		}
	}
	return out
}

// fromJSON decodes one value as encoding/json with UseNumber does.
func fromJSON(b []byte) any {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Sprintf("undecodable %q", b)
	}
	return v
}

// TestSameAnswers: every projector gives every line's fields as
// encoding/json does, and the strict ones refuse what it refuses.
func TestSameAnswers(t *testing.T) {
	data, fields := input(t)
	ref := projectors[1].new(fields)
	bad := [][]byte{[]byte(`{"event":{"action":00}}`), []byte(`{"host":{"name":"a` + "\x01" + `"}}`), []byte(`{"a":1}x`)}
	for _, p := range projectors {
		project := p.new(fields)
		for i, line := range data[:500] {
			want, _ := ref(line)
			got, err := project(line)
			if err != nil {
				t.Fatalf("%s: line %d: %v", p.name, i, err)
			}
			if g, w := canon(got), canon(want); g != w {
				t.Errorf("%s: line %d:\n got %s\nwant %s", p.name, i, g, w)
				break
			}
		}
		refused := 0
		for _, b := range bad {
			if _, err := project(b); err != nil {
				refused++
			}
		}
		if p.strict && refused != len(bad) {
			t.Errorf("%s: refused %d of %d inputs encoding/json refuses", p.name, refused, len(bad))
		}
		t.Logf("%s: refuses %d of %d inputs encoding/json refuses", p.name, refused, len(bad))
	}
}

func canon(m map[string]any) string {
	b, _ := json.Marshal(m)
	return string(b)
}

func BenchmarkProject(b *testing.B) {
	data, fields := input(b)
	size := 0
	for _, l := range data {
		size += len(l)
	}
	for _, p := range projectors {
		b.Run(p.name, func(b *testing.B) {
			project := p.new(fields)
			b.SetBytes(int64(size))
			for b.Loop() {
				for _, line := range data {
					if _, err := project(line); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(len(data))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
