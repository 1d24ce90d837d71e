package sensor_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"

	"github.com/purpleharness/purpleharness/harness/sensor"
)

// ExampleStart records what a child process did on the network.
func ExampleStart() {
	ctx := context.Background()
	s, err := sensor.Start(ctx, sensor.Config{}) // descendants of this process
	if errors.Is(err, sensor.ErrNotRoot) || errors.Is(err, sensor.ErrNoAudit) {
		fmt.Println("cannot record:", err) // names the missing capability
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
