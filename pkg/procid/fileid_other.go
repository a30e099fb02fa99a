//go:build !unix

package procid

import "os"

// FileIDOf returns the zero FileID: the platform reports no inode numbers.
func FileIDOf(os.FileInfo) FileID { return FileID{} }
