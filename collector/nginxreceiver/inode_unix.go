//go:build unix

package nginxreceiver

import (
	"os"
	"syscall"
)

// fileID returns the device and inode numbers of a file, which survive a
// rename and so identify a rotated log file.
func fileID(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), st.Ino //nolint:unconvert // Dev's type differs between platforms
	}
	return 0, 0
}
