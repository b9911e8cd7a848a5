// Package sqlite is the SQLite engine of the vendor's ledger, the
// default: a ledger in one file, with nothing to install, which the
// olr-sign processes of one host share. The ledger's rules, statements
// and audit chain are the ledger package's, the same on every engine;
// this package holds what is SQLite's own: the file and how it is
// opened, the schema and its migrations, how writers are serialised,
// and what SQLite's errors mean.
//
// # The file
//
// The file is SQLite 3 in WAL mode with synchronous=FULL (a committed
// activation survives a crash or a power cut), foreign keys on and a
// busy timeout (BusyTimeout, 10 s: a second olr-sign waits for the
// first). Create makes it with mode 0600 in a 0700 directory, and only
// where no file exists: it holds customers' hardware identifiers. It
// holds no secret key material. The driver is modernc.org/sqlite, in
// pure Go, so olr-sign builds without cgo.
//
// Open never writes to a file before it is known to hold a ledger
// (Inspect reads it through a read-only connection first), since putting
// a file in WAL mode writes a header into it: an empty, truncated or
// foreign file is left exactly as it was.
//
// # Schema
//
// PRAGMA application_id is ApplicationID (0x6f6c724c, "olrL") and PRAGMA
// user_version is the number of schema steps applied (State). Migrate
// applies the missing steps (Migrations) in one write transaction. Step
// N makes the same tables and columns as the PostgreSQL engine's step N,
// in the same order, STRICT, so that every row reads back as the same Go
// values on both and the audit log's hashes are the same. The guard
// triggers (Guards) refuse updates and deletes of what olr never
// changes; they prevent accidents only: someone with the file can drop
// them, and the audit chain is what detects tampering.
//
// # Concurrency
//
// Every write transaction (BeginWrite) is BEGIN IMMEDIATE: it takes
// SQLite's write lock up front, so two processes checking "is this key
// active?" cannot both see "no" and both activate. A writer that finds
// the lock taken waits up to the busy timeout, then fails with
// SQLITE_BUSY, which is Retryable: the ledger runs the transaction
// again, a few times. Readers (BeginRead) use deferred, read-only
// transactions: under WAL each sees one snapshot and never blocks the
// writer, nor waits for it.
//
// # Read-only opens
//
// An engine opened with ReadOnly sets query_only, so no statement
// writes and no transaction takes the write lock: it reads while
// another process writes, and verifies a copy that cannot be written.
// The file is opened for writing when it can be, so that the last
// connection to close removes the WAL files as a writer's does; else
// read-only, and as immutable when not even the WAL's index can be made
// (a read-only directory or mount, where nobody can be writing).
package sqlite
