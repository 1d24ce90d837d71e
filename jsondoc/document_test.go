package jsondoc

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestLookup(t *testing.T) {
	doc := Document{
		"@timestamp":   "2026-11-26T10:00:00.000Z",
		"process.name": "flat",
		"process":      map[string]any{"pid": 42, "parent": map[string]any{"name": "bash"}},
		"destination":  map[string]any{"port": json.Number("25")},
		"user":         nil,
		"a.b":          map[string]any{"c": "dotted-then-nested"},
		// An array of objects, as process.previous: Elasticsearch indexes
		// every element's leaves under one path.
		"prev": []any{
			map[string]any{"executable": "/usr/bin/bash", "args": []any{"bash", "-c"}},
			map[string]any{"executable": "/usr/bin/sh"},
			"not an object",
		},
	}
	tests := []struct {
		path   string
		want   any
		wantOK bool
	}{
		{"@timestamp", "2026-11-26T10:00:00.000Z", true},
		{"process.name", "flat", true},
		{"process.pid", 42, true},
		{"process.parent.name", "bash", true},
		{"destination.port", json.Number("25"), true},
		{"user", nil, true},
		{"user.name", nil, false},
		{"a.b.c", "dotted-then-nested", true},
		{"process.missing", nil, false},
		{"prev.executable", []any{"/usr/bin/bash", "/usr/bin/sh"}, true},
		{"prev.args", []any{"bash", "-c"}, true},
		{"prev.missing", nil, false},
		{"missing", nil, false},
	}
	for _, tt := range tests {
		got, ok := doc.Lookup(tt.path)
		if ok != tt.wantOK || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Lookup(%q) = %v, %v; want %v, %v", tt.path, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestSetThenLookup(t *testing.T) {
	d := Document{}
	d.Set("process.parent.pid", 7)
	d.Set("process.name", "nc")
	if got, _ := d.Lookup("process.parent.pid"); got != 7 {
		t.Errorf("process.parent.pid = %v, want 7", got)
	}
	b, _ := json.Marshal(d)
	if string(b) != `{"process":{"name":"nc","parent":{"pid":7}}}` {
		t.Errorf("json = %s", b)
	}
}

func TestDecode(t *testing.T) {
	d, err := Decode([]byte(`{"destination":{"port":9007199254740993}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := d.Lookup("destination.port"); got != json.Number("9007199254740993") {
		t.Errorf("port = %#v", got)
	}
	if _, err := Decode([]byte(`[1]`)); err == nil {
		t.Error("Decode of an array: want error")
	}
	if _, err := Decode([]byte(`null`)); err == nil {
		t.Error("Decode of null: want error")
	}
	// Two objects on one NDJSON line: refused, not read in part.
	if _, err := Decode([]byte("{\"a\":1}\t\r\n")); err != nil {
		t.Errorf("trailing blanks: %v", err)
	}
	if _, err := Decode([]byte(`{"a":1} {"b":2}`)); err == nil || err.Error() != "decode document: invalid character '{' after top-level value" {
		t.Errorf("two objects: %v, want encoding/json's error", err)
	}
}
