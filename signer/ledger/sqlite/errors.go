package sqlite

import (
	"errors"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// code returns the primary SQLite result code of err, or 0.
func code(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() & 0xff
	}
	return 0
}

// IsBusy reports whether err says another connection holds a lock
// (SQLITE_BUSY, SQLITE_LOCKED): the write lock stayed with another
// process longer than the busy timeout.
func IsBusy(err error) bool {
	c := code(err)
	return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
}

// IsConstraint reports whether err is a constraint violation
// (SQLITE_CONSTRAINT): a unique index, a foreign key, a check, or a
// guard trigger.
func IsConstraint(err error) bool { return code(err) == sqlite3.SQLITE_CONSTRAINT }

// IsDiskFull reports whether err says the disk holding the database is
// full (SQLITE_FULL).
func IsDiskFull(err error) bool { return code(err) == sqlite3.SQLITE_FULL }

// IsReadOnly reports whether err says the database cannot be written
// (SQLITE_READONLY): a read-only file, directory or mount, or an engine
// opened with ReadOnly.
func IsReadOnly(err error) bool { return code(err) == sqlite3.SQLITE_READONLY }

// IsNotADatabase reports whether err says the file is not an SQLite
// database (SQLITE_NOTADB).
func IsNotADatabase(err error) bool { return code(err) == sqlite3.SQLITE_NOTADB }

// cannotOpenReadOnly reports whether a read-only open failed because
// SQLite could not create the files it keeps beside a WAL database.
func cannotOpenReadOnly(err error) bool {
	switch code(err) {
	case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY:
		return true
	}
	return false
}
