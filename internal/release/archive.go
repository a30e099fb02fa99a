package release

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"time"
)

// archiveFile is one file to archive: read from src, stored as name.
type archiveFile struct {
	src, name string
	mode      int64
}

// writeArchive writes files into a gzip-compressed tar at dst, under the
// directory top, owned by root with the epoch as modification time so the
// archive depends only on the files' contents.
func writeArchive(dst, top string, files []archiveFile) (err error) {
	f, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	hdr := func(name string, mode int64, size int64, typ byte) *tar.Header {
		return &tar.Header{Name: name, Mode: mode, Size: size, Typeflag: typ, ModTime: time.Unix(0, 0), Uname: "root", Gname: "root", Format: tar.FormatPAX}
	}
	if err := tw.WriteHeader(hdr(top+"/", 0o755, 0, tar.TypeDir)); err != nil {
		return fmt.Errorf("release: %s: %w", dst, err)
	}
	for _, file := range files {
		if err := addFile(tw, hdr, path.Join(top, file.name), file); err != nil {
			return fmt.Errorf("release: %s: %w", dst, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("release: %s: %w", dst, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("release: %s: %w", dst, err)
	}
	return nil
}

// addFile copies one file into the archive.
func addFile(tw *tar.Writer, hdr func(string, int64, int64, byte) *tar.Header, name string, file archiveFile) error {
	src, err := os.Open(file.src)
	if err != nil {
		return err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(hdr(name, file.mode, fi.Size(), tar.TypeReg)); err != nil {
		return err
	}
	_, err = io.Copy(tw, src)
	return err
}
