//go:build !unix

package atomics

import (
	"os"
	"os/exec"
)

// setSession is a no-op where there are no process groups (Windows);
// killSession then kills only the executor itself.
func setSession(*exec.Cmd) {}

func killSession(pid int, alive bool) []int {
	if !alive || pid <= 0 {
		return nil
	}
	if p, err := os.FindProcess(pid); err == nil && p.Kill() == nil {
		return []int{pid}
	}
	return nil
}

func exitSignal(*os.ProcessState) string { return "" }
