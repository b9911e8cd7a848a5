package safefile_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/olr-dev/olr/internal/safefile"
)

// TestReplaceManyAndWriteMany: both put every file in place with its
// content and mode, replacing what was there, call done once per file,
// and leave no temporary file; SyncFS then succeeds on the directory. A
// name that is not a file name is refused before anything is written.
func TestReplaceManyAndWriteMany(t *testing.T) {
	for name, write := range map[string]func(string, []safefile.File, func(int)) error{
		"ReplaceMany": safefile.ReplaceMany, "WriteMany": safefile.WriteMany,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			d, err := os.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if err := os.WriteFile(filepath.Join(dir, "b.olr"), []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
			files := []safefile.File{{"a.olr", []byte("first"), 0o644}, {"b.olr", []byte("second"), 0o640}, {"c.olr", nil, 0o600}}
			var done []int
			if err := write(dir, files, func(i int) { done = append(done, i) }); err != nil {
				t.Fatal(err)
			}
			if err := safefile.SyncFS(d); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(done, []int{0, 1, 2}) {
				t.Errorf("done called for %v", done)
			}
			for _, f := range files {
				data, err := os.ReadFile(filepath.Join(dir, f.Name))
				if err != nil || string(data) != string(f.Data) {
					t.Errorf("%s: %q, %v; want %q", f.Name, data, err, f.Data)
				}
				if fi, err := os.Stat(filepath.Join(dir, f.Name)); err == nil && fi.Mode().Perm() != f.Perm {
					t.Errorf("%s: mode %v, want %v", f.Name, fi.Mode().Perm(), f.Perm)
				}
			}
			ents, _ := os.ReadDir(dir)
			if len(ents) != 3 {
				t.Errorf("%d entries, want the 3 files", len(ents))
			}
			if err := write(dir, []safefile.File{{"d.olr", []byte("x"), 0o644}, {"sub/e.olr", []byte("y"), 0o644}}, nil); err == nil || !strings.Contains(err.Error(), "not a file name") {
				t.Errorf("a path as a name: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, "d.olr")); err == nil {
				t.Error("a refused call wrote a file")
			}
		})
	}
	d, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if err := safefile.SyncFS(d); err == nil {
		t.Error("SyncFS of a closed directory succeeded")
	}
}
