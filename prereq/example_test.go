package prereq_test

import (
	"fmt"
	"os"

	"github.com/purpleharness/purpleharness/prereq"
)

// A function that finds the machine lacking something returns a *Missing;
// a test hands any error to SkipOrFail (skip on *Missing, fail otherwise).
func ExampleNew() {
	start := func() error {
		if _, err := os.Stat("/nonexistent/docker.sock"); err != nil {
			return prereq.New(prereq.Docker, fmt.Errorf("no Docker daemon: %w", err))
		}
		return nil
	}
	err := start()
	m, ok := prereq.As(err)
	fmt.Println(ok, m.Cause)
	c, _ := prereq.Parse("validate: " + err.Error())
	fmt.Println(c)
	// Output:
	// true docker
	// docker
}
