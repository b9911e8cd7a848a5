package host

import (
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxAttrSize bounds what is read from one sysfs attribute or /etc file;
// the values wanted are a few dozen bytes.
const maxAttrSize = 4096

// readAttr returns the trimmed content of the file at the host path p,
// up to maxAttrSize bytes.
func readAttr(p string) (string, error) {
	b, err := readRaw(p)
	return strings.TrimSpace(string(b)), err
}

// readRaw returns up to maxAttrSize bytes of the file at the host path p.
func readRaw(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxAttrSize))
}

// attr is readAttr for values whose absence is an answer in itself.
func attr(p string) string {
	s, _ := readAttr(p)
	return s
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// resolveLink returns the absolute path, inside the machine being
// fingerprinted, that the symlink at abs (also inside it) points to. It
// is lexical, as the kernel's sysfs links are relative and a saved tree
// may not contain every target.
func resolveLink(root, abs string) (string, error) {
	target, err := os.Readlink(filepath.Join(root, abs))
	if err != nil {
		return "", err
	}
	if path.IsAbs(target) {
		return path.Clean(target), nil
	}
	return path.Join(path.Dir(abs), target), nil
}

// maxLinks bounds symlink hops in resolveInRoot, like the kernel's 40.
const maxLinks = 40

// resolveInRoot resolves the absolute path p component by component as if
// root were "/": absolute symlinks and ".." stay inside root. Images often
// link /var/lib/dbus/machine-id to /etc/machine-id, an absolute path that
// must not be read on the host running olr. It returns the host path.
func resolveInRoot(root, p string) (string, error) {
	rest := strings.Split(strings.TrimPrefix(path.Clean("/"+p), "/"), "/")
	cur := "/"
	for hops := 0; len(rest) > 0; {
		comp := rest[0]
		rest = rest[1:]
		if comp == "" || comp == "." {
			continue
		}
		next := path.Join(cur, comp)
		fi, err := os.Lstat(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > maxLinks {
			return "", errors.New("too many levels of symbolic links")
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if !path.IsAbs(target) {
			target = path.Join(cur, target)
		}
		rest = append(strings.Split(strings.TrimPrefix(path.Clean(target), "/"), "/"), rest...)
		cur = "/"
	}
	return filepath.Join(root, cur), nil
}
