//go:build !linux

package atomics

import (
	"os"
	"os/exec"
)

// setSession is a no-op where we cannot rely on sessions and /proc;
// killSession then kills only the executor itself.
func setSession(*exec.Cmd) {}

func killSession(pid int, alive bool) []int {
	if !alive {
		return nil
	}
	if p, err := os.FindProcess(pid); err == nil && p.Kill() == nil {
		return []int{pid}
	}
	return nil
}

func exitSignal(*os.ProcessState) string { return "" }
