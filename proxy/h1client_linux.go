package proxy

import "syscall"

// peekAlive peeks at a socket without blocking: nothing to read means the
// connection is open and idle; EOF, data or an error mean it cannot be used.
func peekAlive(fd uintptr) bool {
	var b [1]byte
	n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return n < 0 && (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK)
}

// peekSocket peeks at a client socket without blocking: nothing to read,
// data waiting, or closed (EOF or an error such as a reset).
func peekSocket(fd uintptr) peekState {
	var b [1]byte
	n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	switch {
	case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK || err == syscall.EINTR:
		return peekNothing
	case err != nil || n == 0:
		return peekClosed
	}
	return peekData
}
