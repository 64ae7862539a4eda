//go:build !linux

package demo

import "os/exec"

// detach does nothing outside Linux: Ctrl-C reaches the children too, and
// Stop finds them stopping already.
func detach(*exec.Cmd) {}
