package demo

import (
	"os/exec"
	"syscall"
)

// detach puts the child in its own process group, so that Ctrl-C reaches
// the demo alone and the demo stops the children in order, and kills the
// child if the demo dies without stopping it (Linux).
func detach(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
