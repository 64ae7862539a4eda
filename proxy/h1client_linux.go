package proxy

import "syscall"

// peekAlive peeks at a socket without blocking: nothing to read means the
// connection is open and idle; EOF, data or an error mean it cannot be used.
func peekAlive(fd uintptr) bool {
	var b [1]byte
	n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return n < 0 && (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK)
}
