//go:build !windows

package agent

import (
	"os/exec"
	"syscall"
)

// setProcGroup puts the shell in a new process group so that a kill reaches
// everything it spawned, including background children.
func setProcGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killTree kills the shell's whole process group. The group id equals the
// shell's pid because of Setpgid.
func killTree(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if err == syscall.ESRCH {
		return nil
	}
	return err
}
