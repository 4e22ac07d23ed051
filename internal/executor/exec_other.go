//go:build !unix

package executor

import "os/exec"

// setProcessGroup is a no-op where process groups are not supported: the
// command alone is killed on cancellation (exec.CommandContext's default).
func setProcessGroup(*exec.Cmd) {}

// killProcessGroup is a no-op where process groups are not supported.
func killProcessGroup(int) {}
