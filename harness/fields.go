package harness

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/purpleharness/purpleharness/ecs"
)

// Helpers to read the few fields the harness itself needs from rendered
// documents, whatever Go type the renderer used for numbers.

func docString(d ecs.Document, path string) string {
	v, ok := d.Lookup(path)
	if !ok || v == nil {
		return ""
	}
	if a, isArr := v.([]any); isArr {
		if len(a) == 0 {
			return ""
		}
		v = a[0]
	}
	return scalarString(v)
}

func docInt(d ecs.Document, path string) (int, bool) {
	s := docString(d, path)
	if s == "" {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

func docTime(d ecs.Document) time.Time {
	s := docString(d, "@timestamp")
	if s == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t
	}
	// Epoch milliseconds, as Elasticsearch accepts too.
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC()
	}
	return time.Time{}
}

// docHas reports whether a multi-valued field holds want (exact).
func docHas(d ecs.Document, path, want string) bool {
	v, ok := d.Lookup(path)
	if !ok {
		return false
	}
	for _, x := range values(v) {
		if scalarString(x) == want {
			return true
		}
	}
	return false
}

func values(v any) []any {
	if a, ok := v.([]any); ok {
		return a
	}
	if a, ok := v.([]string); ok {
		out := make([]any, len(a))
		for i, s := range a {
			out[i] = s
		}
		return out
	}
	return []any{v}
}

func scalarString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32)
	case bool:
		return strconv.FormatBool(x)
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

// flatten lists every leaf of a document as (dotted path, value), array
// elements under their field's path. Used to search a document for the
// literal a failing condition wanted.
func flatten(d ecs.Document) []leaf {
	var out []leaf
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				walk(join(prefix, k), c)
			}
		case ecs.Document:
			for k, c := range x {
				walk(join(prefix, k), c)
			}
		case []any:
			for _, c := range x {
				walk(prefix, c)
			}
		case []string:
			for _, c := range x {
				out = append(out, leaf{prefix, c})
			}
		default:
			out = append(out, leaf{prefix, scalarString(x)})
		}
	}
	walk("", map[string]any(d))
	return out
}

type leaf struct{ path, value string }

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

// counter counts string values, reporting them most frequent first.
type counter map[string]int

func (c counter) top(n int) []kv {
	out := make([]kv, 0, len(c))
	for k, v := range c {
		out = append(out, kv{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].n != out[j].n {
			return out[i].n > out[j].n
		}
		return out[i].k < out[j].k
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

type kv struct {
	k string
	n int
}

func quoteList(kvs []kv) string {
	parts := make([]string, len(kvs))
	for i, x := range kvs {
		parts[i] = fmt.Sprintf("%q in %d", x.k, x.n)
	}
	return strings.Join(parts, ", ")
}
