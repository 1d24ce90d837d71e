package eql_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/purpleharness/purpleharness/ecs"
	"github.com/purpleharness/purpleharness/eql"
)

func ExampleSearch() {
	events := []ecs.Document{
		{"@timestamp": "2026-11-26T10:00:01Z", "event": map[string]any{"category": "network"}, "process": map[string]any{"name": "nc", "entity_id": "p1"}, "destination": map[string]any{"port": 25}},
		{"@timestamp": "2026-11-26T10:00:02Z", "event": map[string]any{"category": "network"}, "process": map[string]any{"name": "nc", "entity_id": "p1"}, "destination": map[string]any{"port": 110}},
	}
	req := eql.Request{Query: `sequence by process.entity_id with maxspan=1m
	  [network where destination.port in (25, 465, 587)]
	  [network where destination.port in (110, 995)]`}
	resp, err := eql.Search(context.Background(), req, func(yield func(ecs.Document, error) bool) {
		for _, e := range events {
			if !yield(e, nil) {
				return
			}
		}
	}, eql.WithIndex("logs-endpoint"))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range resp.Hits.Sequences {
		fmt.Println(s.JoinKeys, len(s.Events), s.Events[0].Index)
	}
	// Output:
	// [p1] 2 logs-endpoint
}

func ExampleQuery_Stages() {
	q, err := eql.Parse(`sequence by host.name with maxspan=24h
  [network where destination.port in (25, 110) and not process.name in~ ("outlook.exe")] with runs=3`)
	if err != nil {
		fmt.Println(err)
		return
	}
	ev := ecs.Document{"destination": map[string]any{"port": 25}, "process": map[string]any{"name": "Outlook.EXE"}}
	fmt.Println(q.Kind, q.Keys(), q.MaxSpan)
	for _, st := range q.Stages() {
		fmt.Println(st.Category, "runs", st.Runs)
		for _, c := range st.Conds {
			fmt.Printf("%s %s → %s\n", c.Pos, c.Text, c.Eval(ev))
		}
	}
	// Output:
	// sequence [host.name] 24h0m0s
	// network runs 3
	// 2:18 destination.port in (25, 110) → true
	// 2:52 not process.name in~ ("outlook.exe") → false
}

func ExampleParse_error() {
	_, err := eql.Parse("sequence [process where true]")
	var perr *eql.Error
	if errors.As(err, &perr) {
		fmt.Println(perr.Caret())
	}
	// Output:
	// 1:1: A sequence requires a minimum of 2 queries, found [1]
	// sequence [process where true]
	// ^
}
