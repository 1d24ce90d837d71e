package main

import (
	"context"
	"io"
	"os"
	"runtime/pprof"
	"testing"
)

func TestZZProf(t *testing.T) {
	f := os.Getenv("ZZ_EVENTS")
	if f == "" {
		t.Skip()
	}
	q := `sequence by host.name, process.entity_id with maxspan=24h [network where event.action == "connection_attempted" and destination.port in (25, 465, 587, 110, 995, 143, 993) and not process.name in~ ("thunderbird.exe")] with runs=3`
	out, _ := os.Create("/tmp/cpu.prof")
	pprof.StartCPUProfile(out)
	args := []string{"--events", f, "--size", "0", "--compact"}
	if os.Getenv("ZZ_SORTED") != "" {
		args = append(args, "--sorted")
	}
	args = append(args, q)
	err := runQuery(context.Background(), args, io.Discard, os.Stderr)
	pprof.StopCPUProfile()
	if err != nil {
		t.Fatal(err)
	}
}
