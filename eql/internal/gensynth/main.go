// Command gensynth writes N synthetic Elastic-Defend-shaped network events
// as NDJSON (package synth), for measuring validate query at scale:
//
//	go run ./eql/internal/gensynth -n 1000000 > /tmp/1m.ndjson
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/purpleharness/purpleharness/eql/internal/synth"
)

func main() {
	n := flag.Int("n", 1_000_000, "events")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if err := synth.Write(os.Stdout, *n, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "gensynth:", err)
		os.Exit(1)
	}
}
