package sensor_test

import (
	"context"
	"fmt"
	"os/exec"

	"github.com/purpleharness/purpleharness/harness/sensor"
	"github.com/purpleharness/purpleharness/prereq"
)

// ExampleStart records what a child process did on the network.
func ExampleStart() {
	ctx := context.Background()
	s, err := sensor.Start(ctx, sensor.Config{}) // descendants of this process
	if m, ok := prereq.As(err); ok {             // the machine lacks root or kernel audit
		fmt.Println("cannot record here:", m.Cause, err)
		return
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close() // removes the rules, restores the audit state

	_ = exec.Command("curl", "-s", "imap://127.0.0.1:143/").Run()
	if err := s.Sync(ctx); err != nil { // everything before this line has arrived
		fmt.Println(err)
		return
	}
	for _, o := range s.Observations() {
		if c := o.Connect; c != nil {
			fmt.Println(c.Process.Name(), c.Dest, c.Result)
		}
	}
	fmt.Println(s.Stats()) // events and losses
}
