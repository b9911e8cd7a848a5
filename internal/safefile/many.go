package safefile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
)

// File is one file for ReplaceMany: a base name, its content and the
// mode of the file created.
type File struct {
	Name string
	Data []byte
	Perm os.FileMode
}

// maxConcurrentSyncs bounds the fsyncs ReplaceMany has in flight: they
// wait for the disk, not the CPU, and a file system commits concurrent
// ones together.
const maxConcurrentSyncs = 32

// ReplaceMany writes each of files into dir as Replace does (a synced
// temporary file renamed over the name), but in three passes: every
// temporary is created and written, then all are synced at once, then
// renamed in order, calling done(i) once file i is in place. The
// directory itself is not synced: call SyncDir once after the last
// ReplaceMany into it. On an error, the files not yet renamed are left as
// they were and their temporaries removed.
func ReplaceMany(dir string, files []File, done func(i int)) error {
	return replaceMany(dir, files, done, true)
}

// WriteMany writes each of files into dir through a temporary file
// renamed over its name, as ReplaceMany does, so that no file is ever
// seen half-written; but where the file system can be synced as a whole
// it syncs none of them: the caller calls SyncFS once after its last
// WriteMany into dir, which makes them all durable with one sync instead
// of one per file. Until then a crash may lose the files or leave them
// empty, so WriteMany is for files the caller can write again after a
// crash (a batch's licenses, which the ledger holds). Where the file
// system cannot be synced as a whole, each file is synced before its
// rename, as ReplaceMany does, and SyncFS syncs the directory.
func WriteMany(dir string, files []File, done func(i int)) error {
	return replaceMany(dir, files, done, !canSyncFS)
}

func replaceMany(dir string, files []File, done func(i int), syncEach bool) (err error) {
	// todo[i] is the temporary file of files[i].
	type pending struct {
		f    *os.File
		tmp  string
		werr error
	}
	todo := make([]pending, 0, len(files))
	defer func() {
		for _, p := range todo {
			if p.f != nil {
				p.f.Close()
			}
			if p.tmp != "" {
				os.Remove(p.tmp)
			}
		}
	}()
	for _, file := range files {
		if strings.ContainsRune(file.Name, filepath.Separator) || file.Name == "" {
			return fmt.Errorf("safefile: %q is not a file name", file.Name)
		}
		f, err := os.CreateTemp(dir, TempPrefix(file.Name)+"*")
		if err != nil {
			return err
		}
		todo = append(todo, pending{f: f, tmp: f.Name()})
		if err := f.Chmod(file.Perm); err != nil {
			return err
		}
		if _, err := f.Write(file.Data); err != nil {
			return err
		}
	}
	if syncEach {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range min(len(todo), maxConcurrentSyncs) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := int(next.Add(1) - 1); j < len(todo); j = int(next.Add(1) - 1) {
					p := &todo[j]
					p.werr = p.f.Sync()
					if cerr := p.f.Close(); p.werr == nil {
						p.werr = cerr
					}
					p.f = nil
				}
			}()
		}
		wg.Wait()
	} else {
		for j := range todo {
			p := &todo[j]
			p.werr = p.f.Close()
			p.f = nil
		}
	}
	for j := range todo {
		p := &todo[j]
		if p.werr != nil {
			return p.werr
		}
		if err := os.Rename(p.tmp, filepath.Join(dir, files[j].Name)); err != nil {
			return err
		}
		p.tmp = ""
		if done != nil {
			done(j)
		}
	}
	return nil
}

// TempPrefix is how the temporary files of Replace and ReplaceMany that
// stand for name begin: ".NAME.tmp", followed by random digits. A killed
// process leaves at most such files, never a partial NAME.
func TempPrefix(name string) string { return "." + name + ".tmp" }
