//go:build !unix

package nginxreceiver

import "os"

// fileID has no inode to read here: rotation is then seen only through
// os.SameFile on open files, and a restart across a rotation starts the new
// file from its beginning.
func fileID(os.FileInfo) (dev, ino uint64) { return 0, 0 }
