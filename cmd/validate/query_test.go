package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runValidateStdin is runValidate with stdin.
func runValidateStdin(t *testing.T, bin, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = "../.."
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("run validate %v: %v", args, err)
	}
	return o.String(), e.String(), 0
}

// TestQueryCommand runs "validate query" end to end over NDJSON, a JSON
// array and stdin, and checks the _eql/search-shaped output and the exit
// codes of bad queries and bad events.
func TestQueryCommand(t *testing.T) {
	bin := buildValidate(t)
	dir := t.TempDir()
	ev := func(ts int, entity, name string, port int) string {
		b, _ := json.Marshal(map[string]any{
			"@timestamp":  ts,
			"event":       map[string]any{"category": "network", "type": []string{"start", "connection_attempted"}},
			"host":        map[string]any{"name": "h1"},
			"process":     map[string]any{"entity_id": entity, "name": name},
			"destination": map[string]any{"port": port},
		})
		return string(b)
	}
	lines := []string{
		ev(1000, "p1", "nc", 25), ev(2000, "p1", "nc", 110), ev(3000, "p1", "nc", 143),
		ev(4000, "p2", "Thunderbird.EXE", 993), ev(5000, "p2", "Thunderbird.EXE", 993), ev(6000, "p2", "Thunderbird.EXE", 993),
	}
	ndjson := filepath.Join(dir, "events.ndjson")
	if err := os.WriteFile(ndjson, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	array := filepath.Join(dir, "events.json")
	if err := os.WriteFile(array, []byte("["+strings.Join(lines, ",\n")+"]"), 0o644); err != nil {
		t.Fatal(err)
	}
	rule, err := os.ReadFile("../../rules/t1071_003_mail_c2_published.toml")
	if err != nil {
		t.Fatal(err)
	}
	query := string(rule)
	query = query[strings.Index(query, "query = '''\n")+len("query = '''\n"):]
	query = query[:strings.Index(query, "'''")]

	type result struct {
		Hits struct {
			Total  struct{ Value int }
			Events []struct {
				ID    string `json:"_id"`
				Index string `json:"_index"`
			}
			Sequences []struct {
				JoinKeys []any `json:"join_keys"`
				Events   []struct {
					ID string `json:"_id"`
				}
			}
		}
	}
	for _, tc := range []struct {
		name string
		file string
	}{{"ndjson", ndjson}, {"array", array}} {
		t.Run("published rule/"+tc.name, func(t *testing.T) {
			stdout, stderr, code := runValidate(t, bin, "query", "--events", tc.file, query)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var r result
			if err := json.Unmarshal([]byte(stdout), &r); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, stdout)
			}
			if len(r.Hits.Sequences) != 1 || r.Hits.Total.Value != 1 {
				t.Fatalf("want one sequence (nc; Thunderbird.EXE is allow-listed by in~), got %s", stdout)
			}
			s := r.Hits.Sequences[0]
			if len(s.Events) != 3 || s.JoinKeys[0] != "h1" || s.JoinKeys[1] != "p1" {
				t.Errorf("sequence = %+v, want 3 events of [h1 p1]", s)
			}
		})
	}

	t.Run("flags after query, stdin, head", func(t *testing.T) {
		cmd := []string{"query", "network where true", "--events", "-", "--size", "2", "--result-position", "head", "--index", "mail", "--compact"}
		stdout, stderr, code := runValidateStdin(t, bin, strings.Join(lines, "\n"), cmd...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var r result
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatal(err)
		}
		if len(r.Hits.Events) != 2 || r.Hits.Events[0].ID != "0" || r.Hits.Events[0].Index != "mail" {
			t.Errorf("head 2 = %s, want events 0 and 1 of index mail", stdout)
		}
		if strings.Count(stdout, "\n") != 1 {
			t.Errorf("--compact output spans several lines:\n%s", stdout)
		}
	})

	errTests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"bad query", []string{"query", "--events", ndjson, "network where process.name == "}, 2,
			"1:31: mismatched input '<EOF>' expecting an expression\nnetwork where process.name == \n                              ^\n"},
		{"one-stage sequence", []string{"query", "--events", ndjson, "sequence [network where true]"}, 2,
			"1:1: A sequence requires a minimum of 2 queries, found [1]\nsequence [network where true]\n^\n"},
		{"missing events flag", []string{"query", "any where true"}, 2, "validate: query: --events FILE is required\n"},
		{"bad result position", []string{"query", "--events", ndjson, "--result-position", "middle", "any where true"}, 2, "validate: query: --result-position \"middle\": want head or tail\n"},
		{"no such file", []string{"query", "--events", filepath.Join(dir, "nope"), "any where true"}, 2, "validate: query: open " + filepath.Join(dir, "nope") + ": no such file or directory\n"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := runValidate(t, bin, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			// Usage errors print the usage first; compare the tail.
			if !strings.HasSuffix(stderr, tt.stderr) {
				t.Errorf("stderr:\n%s\nwant it to end with:\n%s", stderr, tt.stderr)
			}
		})
	}

	t.Run("sorted", func(t *testing.T) {
		stdout, stderr, code := runValidate(t, bin, "query", "--sorted", "--compact", "--events", ndjson, query)
		if code != 0 || !strings.Contains(stdout, `"join_keys":["h1","p1"]`) {
			t.Errorf("--sorted over ordered events: exit %d, stdout %s, stderr %s", code, stdout, stderr)
		}
		reversed := strings.Join([]string{lines[1], lines[0]}, "\n")
		_, stderr, code = runValidateStdin(t, bin, reversed, "query", "--sorted", "--events", "-", "network where true")
		if code != 2 || !strings.Contains(stderr, "out of order") || !strings.Contains(stderr, "drop --sorted") {
			t.Errorf("--sorted over disordered events: exit %d, stderr %q; want 2 and the out-of-order hint", code, stderr)
		}
	})

	t.Run("rule file", func(t *testing.T) {
		stdout, stderr, code := runValidate(t, bin, "query", "--compact", "--events", ndjson, "--rule", "rules/t1071_003_mail_c2_published.toml")
		if code != 0 || !strings.Contains(stdout, `"join_keys":["h1","p1"]`) {
			t.Errorf("--rule published: exit %d, stdout %s, stderr %s", code, stdout, stderr)
		}
		bad := filepath.Join(dir, "bad.toml")
		if err := os.WriteFile(bad, []byte("[rule]\ntype = \"eql\"\nname = \"bad\"\nquery = \"\"\"\nnetwork where\n  process.name ==\"\"\"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, stderr, code = runValidate(t, bin, "query", "--events", ndjson, "--rule", bad)
		if want := bad + ":6:18: mismatched input '<EOF>' expecting an expression\n"; code != 2 || stderr != want {
			t.Errorf("--rule with a bad query: exit %d, stderr %q; want 2, %q", code, stderr, want)
		}
		_, stderr, code = runValidate(t, bin, "query", "--events", ndjson, "--rule", bad, "any where true")
		if code != 2 || !strings.HasSuffix(stderr, "validate: query: give QUERY or --rule FILE, not both\n") {
			t.Errorf("--rule and QUERY: exit %d, stderr %q", code, stderr)
		}
	})

	t.Run("bad event line", func(t *testing.T) {
		bad := filepath.Join(dir, "bad.ndjson")
		if err := os.WriteFile(bad, []byte(lines[0]+"\n\n  {\"a\": tru}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, stderr, code := runValidate(t, bin, "query", "--events", bad, "any where true")
		want := "validate: " + bad + ":3:12: decode document: invalid character '}' in literal true (expecting 'e')\n"
		if code != 2 || stderr != want {
			t.Errorf("exit %d, stderr %q; want 2, %q", code, stderr, want)
		}
	})
}
