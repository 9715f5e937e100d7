//go:build windows

package agent

import (
	"os/exec"
	"strconv"
	"syscall"
)

// createNewProcessGroup is CREATE_NEW_PROCESS_GROUP; spelled out so the
// file builds without golang.org/x/sys/windows.
const createNewProcessGroup = 0x00000200

// setProcGroup detaches the shell into its own group so that console
// signals aimed at the agent do not hit it and vice versa.
func setProcGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: createNewProcessGroup}
}

// killTree kills the shell and every descendant. taskkill /T walks the
// parent-pid tree; a job object would be tighter (it also catches children
// whose parent already exited) and is the planned follow-up.
func killTree(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	tk := exec.Command("taskkill", "/T", "/F", "/PID", strconv.Itoa(cmd.Process.Pid))
	if err := tk.Run(); err != nil {
		// taskkill missing or the tree already gone: at least end the shell.
		return cmd.Process.Kill()
	}
	return nil
}
