package harness

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/rules"
	"github.com/purpleharness/purpleharness/scenarios"
)

// The explanation tests run the real rule files through the embedded engine
// over documents rendered by the real ecs.Renderer from connect
// observations, as the sensor produces them.

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

type conn struct {
	pid, ppid int
	exe       string
	port      uint16
	at        time.Duration
}

func render(t testing.TB, profile ecs.Profile, conns ...conn) []ecs.Document {
	t.Helper()
	r := ecs.Renderer{Profile: profile, Host: ecs.Host{Name: "vm", ID: "3d1219c7c4c5404aaa1f6d2a48adfda4", OSFamily: "debian"}, Agent: ecs.Agent{ID: "agent-1"}}
	var out []ecs.Document
	for i, c := range conns {
		parent := &ecs.Process{PID: c.ppid, Executable: "/usr/bin/dash", Start: t0.Add(-time.Minute)}
		p := ecs.Process{PID: c.pid, PPID: c.ppid, Executable: c.exe, Start: t0.Add(time.Duration(c.pid) * time.Second), Parent: parent, AUID: ecs.NoID, Session: ecs.NoID}
		d, err := r.Connect(ecs.Connect{
			Time: t0.Add(c.at), Serial: uint64(100 + i), Process: p,
			Dest: netip.MustParseAddrPort("127.0.0.1:" + itoa(int(c.port))), Result: "EINPROGRESS", Transport: ecs.TCP,
		})
		if err != nil {
			t.Fatalf("render %+v: %v", c, err)
		}
		out = append(out, d)
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

func loadRule(t testing.TB, file string) *rules.Rule {
	t.Helper()
	rs, err := rules.Load("../rules/" + file)
	if err != nil || len(rs) != 1 {
		t.Fatalf("load %s: %v (%d rules)", file, err, len(rs))
	}
	return &rs[0]
}

func TestExplainMisses(t *testing.T) {
	const (
		published = "t1071_003_mail_c2_published.toml"
		tuned     = "t1071_003_mail_c2_tuned.toml"
	)
	oneProcess := []conn{{100, 10, "/usr/bin/curl", 110, 0}, {100, 10, "/usr/bin/curl", 143, time.Second}, {100, 10, "/usr/bin/curl", 25, 2 * time.Second}}
	threeProcesses := []conn{{101, 10, "/usr/bin/nc.openbsd", 110, 0}, {102, 10, "/usr/bin/nc.openbsd", 110, time.Second}, {103, 10, "/usr/bin/nc.openbsd", 110, 2 * time.Second}}
	tests := []struct {
		name    string
		rule    string
		profile ecs.Profile
		conns   []conn
		want    string
	}{
		{"published rule on Elastic Defend data", published, ecs.Endpoint, oneProcess,
			"`event.type == \"connection_attempted\"` matched 0 of 3 events (event.type held \"start\" in 3), while event.action holds \"connection_attempted\" in 3"},
		{"published rule, one process per poll", published, ecs.Endpoint, threeProcesses,
			"`event.type == \"connection_attempted\"` matched 0 of 3 events (event.type held \"start\" in 3), while event.action holds \"connection_attempted\" in 3"},
		{"tuned rule, fewer than runs", tuned, ecs.Endpoint, oneProcess[:2],
			"2 events met every condition of stage 1, fewer than runs=3"},
		{"tuned rule, allowlisted name", tuned, ecs.Endpoint, []conn{{100, 10, "/tmp/x/Thunderbird.EXE", 110, 0}, {100, 10, "/tmp/x/Thunderbird.EXE", 143, time.Second}, {100, 10, "/tmp/x/Thunderbird.EXE", 993, 2 * time.Second}},
			"`not process.name in~ (\"outlook.exe\", \"thunderbird.exe\", \"mailclient.exe\", \"em client.exe\", \"msedge.exe\", \"chrome.exe\", \"firefox.exe\", \"safari.exe\")` matched 0 of 3 events (process.name held \"Thunderbird.EXE\" in 3)"},
		{"tuned rule, non-mail ports", tuned, ecs.Endpoint, []conn{{100, 10, "/usr/bin/bash", 2525, 0}, {100, 10, "/usr/bin/bash", 1110, time.Second}, {100, 10, "/usr/bin/bash", 8143, 2 * time.Second}},
			"`destination.port in (25, 465, 587, 110, 995, 143, 993)` matched 0 of 3 events (destination.port held \"1110\" in 1, \"2525\" in 1, \"8143\" in 1)"},
		{"tuned rule, split by parent", tuned, ecs.Endpoint, []conn{{101, 11, "/usr/bin/curl", 110, 0}, {102, 12, "/usr/bin/curl", 110, time.Second}, {103, 13, "/usr/bin/curl", 110, 2 * time.Second}},
			"3 events met every condition of stage 1, from 3 different process.parent.entity_id values, while the rule joins by host.name, process.parent.entity_id, process.executable and needs runs=3 from one of them (largest group: 1)"},
		{"tuned rule, outside maxspan", tuned, ecs.Endpoint, []conn{{100, 10, "/usr/bin/curl", 110, 0}, {100, 10, "/usr/bin/curl", 110, 13 * time.Hour}, {100, 10, "/usr/bin/curl", 110, 25 * time.Hour}},
			"3 events of one host.name/process.parent.entity_id/process.executable met every condition of stage 1, but no 3 of them fall within maxspan=24h0m0s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := loadRule(t, tc.rule)
			shape, err := Embedded{}.Shape(r.Query)
			if err != nil {
				t.Fatalf("Shape: %v", err)
			}
			docs := render(t, tc.profile, tc.conns...)
			e := analyse(shape, docs)
			if e.Summary != tc.want {
				t.Errorf("analyse(%s on %d events).Summary\n got %s\nwant %s", tc.rule, len(docs), e.Summary, tc.want)
			}
		})
	}
}

// TestPublishedJoinKeyExplanation checks the second reason the published
// rule misses a poll-per-process C2 loop once its field is fixed: the
// explanation names process.entity_id.
func TestPublishedJoinKeyExplanation(t *testing.T) {
	r := loadRule(t, "t1071_003_mail_c2_published.toml")
	q := strings.Replace(r.Query, "event.type", "event.action", 1)
	shape, err := Embedded{}.Shape(q)
	if err != nil {
		t.Fatal(err)
	}
	docs := render(t, ecs.Endpoint, conn{101, 10, "/usr/bin/nc.openbsd", 110, 0}, conn{102, 10, "/usr/bin/nc.openbsd", 110, time.Second}, conn{103, 10, "/usr/bin/nc.openbsd", 110, 2 * time.Second})
	want := "3 events met every condition of stage 1, from 3 different process.entity_id values, while the rule joins by host.name, process.entity_id and needs runs=3 from one of them (largest group: 1)"
	if got := analyse(shape, docs).Summary; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestAuditbeatHasNoEntityID: on Auditbeat data the join key is missing,
// and the explanation says the conditions fail before the join matters.
func TestAuditbeatExplanation(t *testing.T) {
	r := loadRule(t, "t1071_003_mail_c2_tuned.toml")
	shape, err := Embedded{}.Shape(r.Query)
	if err != nil {
		t.Fatal(err)
	}
	docs := render(t, ecs.Auditbeat, conn{100, 10, "/usr/bin/curl", 110, 0}, conn{100, 10, "/usr/bin/curl", 143, time.Second}, conn{100, 10, "/usr/bin/curl", 25, 2 * time.Second})
	e := analyse(shape, docs)
	if !strings.Contains(e.Summary, "event.action") || !strings.Contains(e.Summary, "matched 0 of 3") {
		t.Errorf("Auditbeat explanation = %q; want event.action matching 0 of 3", e.Summary)
	}
}

func TestJudge(t *testing.T) {
	det := []Detection{{Events: []EventRef{{ProcessName: "nc.openbsd"}}}}
	ok := &ScenarioResult{Exec: Execution{Status: StatusOK}, NetworkEvents: 3}
	fires := scenarios.Expectation{Expect: scenarios.Fires}
	silent := scenarios.Expectation{Expect: scenarios.Silent}
	gap := func(e scenarios.Expectation) scenarios.Expectation { e.KnownGap = "why"; return e }
	tests := []struct {
		name string
		sc   *ScenarioResult
		exp  scenarios.Expectation
		has  bool
		dets []Detection
		want Verdict
	}{
		{"fires and fired", ok, fires, true, det, Pass},
		{"fires, silent", ok, fires, true, nil, Missed},
		{"silent, fired", ok, silent, true, det, FalsePositive},
		{"silent and silent", ok, silent, true, nil, Pass},
		{"wrong process", ok, scenarios.Expectation{Expect: scenarios.Fires, ProcessName: "nc"}, true, det, Missed},
		{"process in other case", ok, scenarios.Expectation{Expect: scenarios.Fires, ProcessName: "NC.OpenBSD"}, true, det, Pass},
		{"sequence count", ok, scenarios.Expectation{Expect: scenarios.Fires, Sequences: 2}, true, det, Missed},
		{"known gap missed", ok, gap(fires), true, nil, KnownGapMissed},
		{"known gap false positive", ok, gap(silent), true, det, KnownGapFalsePositive},
		{"gap closed", ok, gap(fires), true, det, GapClosed},
		{"no expectation", ok, scenarios.Expectation{}, false, det, NoExpectation},
		{"no telemetry", &ScenarioResult{Exec: Execution{Status: StatusOK}}, silent, true, nil, NoTelemetry},
		{"exec failed", &ScenarioResult{Exec: Execution{Status: StatusFailed}, NetworkEvents: 3}, silent, true, nil, ExecFailed},
		{"skipped", &ScenarioResult{Exec: Execution{Status: StatusSkipped}}, fires, true, nil, Skipped},
	}
	for _, tc := range tests {
		if got := judge(tc.sc, tc.exp, tc.has, tc.dets); got != tc.want {
			t.Errorf("%s: judge(%+v, %+v, %v, %d detections) = %s, want %s", tc.name, tc.sc.Exec.Status, tc.exp, tc.has, len(tc.dets), got, tc.want)
		}
	}
}

// TestJoinReasonMaxSpan: maxspan is blamed only when no join-key group
// holds runs events within it; a smaller group seen first (too few events
// to fit anyway) is not the reason.
func TestJoinReasonMaxSpan(t *testing.T) {
	doc := func(entity string, at time.Duration) ecs.Document {
		return ecs.Document{"@timestamp": t0.Add(at).Format(time.RFC3339Nano), "process.entity_id": entity}
	}
	rep := StageReport{Category: "network", Runs: 2}
	keys := []string{"process.entity_id"}
	tests := []struct {
		name    string
		matched []ecs.Document
		want    string
	}{
		{"one group fits", []ecs.Document{doc("a", 0), doc("b", 0), doc("b", 500*time.Millisecond)}, ""},
		{"none fits", []ecs.Document{doc("a", 0), doc("b", 0), doc("b", 5*time.Second), doc("b", 10*time.Second)},
			"3 events of one process.entity_id met every condition of stage 1, but no 2 of them fall within maxspan=1s"},
	}
	for _, tc := range tests {
		if got := joinReason(0, rep, keys, tc.matched, time.Second); got != tc.want {
			t.Errorf("%s: joinReason = %q, want %q", tc.name, got, tc.want)
		}
	}
}
