//go:build !linux

package proxy

// peekAlive cannot peek here; a closed connection is found when used, and
// the request replayed when it can be.
func peekAlive(uintptr) bool { return true }

// peekSocket cannot peek here: a client that left is found when the answer
// is written.
func peekSocket(uintptr) peekState { return peekNothing }
