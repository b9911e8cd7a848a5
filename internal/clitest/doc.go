// Package clitest tests the olr and olr-sign commands through their real
// binaries.
//
// TestMain makes the test binary double as olr and olr-sign (testscript
// puts copies under those names first in $PATH), and as product, the
// README's product code (product_test.go). The scripts in
// testdata/script drive whole activations against copies of the sysfs
// fixture trees of fingerprint/host/testdata; each runs with OLR_STATE in
// its own $WORK/state, OLR_TPM=none and $HOSTS naming the fixtures.
// import, verify and status read only this machine (they refuse --root,
// or judge it without recording): in the test binary, OLRTEST_MACHINE
// names a host tree that stands in for this machine. Their own commands,
// beside testscript's:
//
//	exit CODE CMD ARGS...    run CMD, check its exit code and that no Go panic reached stderr
//	host NAME DIR            copy the fixture host NAME (symbolic links kept) to DIR
//	hostset DIR FILE VALUE   change a file of a host tree, as drifting hardware would
//	json FILE PATH [WANT]    check a value of a JSON document (FILE may be stdout)
//	noleak KEYFILE...        check that the last output holds no secret of the key files
//	perm FILE MODE           check permission bits
//	mkfile FILE SIZE KIND    write random, NUL or repeated-text input of a size
//	mkfifo FILE              make a named pipe
//	settime FILE KEY OFF VAR set a JSON time field to now+OFF (20h), and $VAR to it
//	truncate FILE N          cut a file to N bytes
//	sleep DURATION           wait, for steps that must fall in different seconds
//
// The Go tests sweep every byte of a license through olr verify and
// olr.Verify, open requests with the age library, feed olr-sign hand-made
// request plaintexts, and run --help on every command.
//
// A new test of a command's behaviour belongs here, as a script. Tests
// that race two processes, kill one mid-write, need thousands of
// synthetic requests or measure a child's memory belong in
// internal/signtest, which builds the binaries with go build and drives
// them from Go.

package clitest
