package elastic

import (
	"encoding/json"
	"fmt"
	"maps"

	"github.com/purpleharness/purpleharness/eql"
)

// Disagreement compares Elasticsearch's answer with the embedded engine's
// to the same request over the same documents and describes the first
// difference, or returns "" when they agree. It is what --backend both
// reports as a failure of its own.
//
// Hits are compared by their _source (as canonical JSON, numbers by value),
// in order, and sequences also by their join keys; _index and _id differ
// between the engines by design and are ignored, as is the
// data_stream.namespace the backend rewrites to the run's.
func Disagreement(es, embedded *eql.Response) string {
	if es.Hits.Total.Value != embedded.Hits.Total.Value {
		return fmt.Sprintf("elasticsearch found %d, the embedded engine %d", es.Hits.Total.Value, embedded.Hits.Total.Value)
	}
	if d := diffHits("event", es.Hits.Events, embedded.Hits.Events); d != "" {
		return d
	}
	if len(es.Hits.Sequences) != len(embedded.Hits.Sequences) {
		return fmt.Sprintf("elasticsearch returned %d sequences, the embedded engine %d", len(es.Hits.Sequences), len(embedded.Hits.Sequences))
	}
	for i := range es.Hits.Sequences {
		a, b := es.Hits.Sequences[i], embedded.Hits.Sequences[i]
		if ka, kb := canonical(a.JoinKeys), canonical(b.JoinKeys); ka != kb {
			return fmt.Sprintf("sequence %d: join keys %s in elasticsearch, %s in the embedded engine", i, ka, kb)
		}
		if d := diffHits(fmt.Sprintf("sequence %d event", i), a.Events, b.Events); d != "" {
			return d
		}
	}
	return ""
}

func diffHits(what string, a, b []eql.Hit) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%ss: elasticsearch returned %d, the embedded engine %d", what, len(a), len(b))
	}
	for i := range a {
		if a[i].Missing != b[i].Missing {
			return fmt.Sprintf("%s %d: missing=%v in elasticsearch, %v in the embedded engine", what, i, a[i].Missing, b[i].Missing)
		}
		sa, sb := canonicalSource(a[i].Source), canonicalSource(b[i].Source)
		if sa != sb {
			return fmt.Sprintf("%s %d differs:\n  elasticsearch: %s\n  embedded:      %s", what, i, sa, sb)
		}
	}
	return ""
}

func canonicalSource(src map[string]any) string {
	if src == nil {
		return "null"
	}
	s := maps.Clone(src)
	if ds, ok := s["data_stream"].(map[string]any); ok {
		ds = maps.Clone(ds)
		delete(ds, "namespace")
		s["data_stream"] = ds
	}
	delete(s, "data_stream.namespace")
	return canonical(s)
}

// canonical renders v as JSON; encoding/json sorts map keys, and renders
// json.Number "25", int 25 and float64 25 alike.
func canonical(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}
