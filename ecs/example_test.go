package ecs_test

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/purpleharness/purpleharness/ecs"
)

func exampleConnect() ecs.Connect {
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	return ecs.Connect{
		Time:   start.Add(5 * time.Millisecond),
		Serial: 1002,
		Process: ecs.Process{
			PID: 4242, PPID: 4100, Start: start,
			Executable: "/usr/bin/nc.openbsd", Comm: "nc",
			Args: []string{"nc", "127.0.0.1", "110"},
			AUID: ecs.NoID, Session: ecs.NoID,
		},
		Dest:      netip.MustParseAddrPort("127.0.0.1:110"),
		Result:    "ECONNREFUSED",
		Transport: ecs.TCP,
	}
}

// One observation, three data sources: each profile words the same
// connection attempt as its real source would, or says it would not have
// reported it at all.
func ExampleRenderer_Connect() {
	c := exampleConnect()
	for _, p := range ecs.Profiles {
		r := ecs.Renderer{Profile: p, Host: ecs.Host{Name: "ci", ID: "4c1bd5a0f2e8"}, Agent: ecs.Agent{ID: "agent-1"}}
		doc, err := r.Connect(c)
		if errors.Is(err, ecs.ErrNotEmitted) {
			fmt.Printf("%s: %v\n", p, err)
			continue
		}
		action, _ := doc.Lookup("event.action")
		name, _ := doc.Lookup("process.name")
		port, _ := doc.Lookup("destination.port")
		fmt.Printf("%s: %s index=%s action=%v process.name=%v destination.port=%#v\n",
			p, "ok", r.Index(ecs.NetworkKind), action, name, port)
	}
	// Output:
	// endpoint: ok index=logs-endpoint.events.network-default action=connection_attempted process.name=nc.openbsd destination.port=110
	// auditbeat: ok index=auditbeat-8.17.0 action=connected-to process.name=nc destination.port="110"
	// sysmon-linux: sysmon-linux sends no network event: Sysmon for Linux reports a TCP connection once it is established (inet_sock_set_state SYN_SENT -> ESTABLISHED); connect(2) returned ECONNREFUSED and no peer was seen accepting it
}

// The mapping says how Elasticsearch will compare a field, whatever JSON
// type the source sent.
func ExampleMapping() {
	m := ecs.Mapping(ecs.Auditbeat)
	fmt.Println(m["destination.port"], m["user.id"], m["process.pid"])
	fmt.Println(ecs.Mapping(ecs.SysmonLinux)["event.module"])
	// Output:
	// long keyword long
	// constant_keyword=sysmon_linux
}

func ExampleEndpointEntityID() {
	p := ecs.Process{PID: 141190, Start: time.Date(2024, 6, 9, 13, 52, 1, 510_000_000, time.UTC)}
	fmt.Println(ecs.EndpointEntityID("abcd-513b-4526-a34a-e229a6f15dff", &p))
	// Output:
	// YWJjZC01MTNiLTQ1MjYtYTM0YS1lMjI5YTZmMTVkZmYtMTQxMTkwLTE3MTc5NDExMjE=
}

func BenchmarkRenderConnect(b *testing.B) {
	c := exampleConnect()
	c.Result, c.Established = "EINPROGRESS", true
	c.Source = netip.MustParseAddrPort("127.0.0.1:40000")
	for _, p := range ecs.Profiles {
		r := ecs.Renderer{Profile: p, Host: ecs.Host{Name: "ci", ID: "4c1bd5a0f2e8", IPs: []string{"127.0.0.1", "10.0.0.2"}}, Agent: ecs.Agent{ID: "agent-1"}}
		b.Run(string(p), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Connect(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRenderExec(b *testing.B) {
	c := exampleConnect()
	e := ecs.Exec{Time: c.Time, Serial: 1, Process: c.Process}
	for _, p := range ecs.Profiles {
		r := ecs.Renderer{Profile: p, Host: ecs.Host{Name: "ci", ID: "4c1bd5a0f2e8"}, Agent: ecs.Agent{ID: "agent-1"}}
		b.Run(string(p), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Exec(e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
