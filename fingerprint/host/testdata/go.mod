// This file keeps testdata out of the olr module's zip. The fixture trees
// reproduce sysfs, whose names contain ':' (0000:00:1f.6, b8:0), and a
// module zip with such a name cannot be built; files under a directory
// with its own go.mod are left out of the zip instead. The fixtures are
// symbolic links, which module zips drop anyway.
module github.com/olr-dev/olr/fingerprint/host/testdata
