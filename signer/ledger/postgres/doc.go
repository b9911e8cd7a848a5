// Package postgres is the PostgreSQL engine of the vendor's ledger: the
// ledger of a team whose olr-sign processes, on several desks and hosts,
// share one database. The ledger's rules, statements and audit chain are
// the ledger package's, the same on every engine; this package holds
// what is PostgreSQL's own: connecting, the schema and its migrations,
// how writers are serialised, and what the server's errors mean.
//
// # Connecting
//
// A ledger is named by a postgres:// (or postgresql://) URL, as libpq
// takes it. The password comes from the URL, PGPASSWORD, or the password
// file (PGPASSFILE, else ~/.pgpass); every message names the ledger by
// the URL with its password replaced by "xxxxx" (Redact). Each session
// sets search_path to the schema olr, which holds every table, a lock
// timeout (LockTimeout) and an idle-in-transaction timeout
// (IdleInTransactionTimeout).
//
// # Schema
//
// The schema olr holds ledger_schema (the application name and the
// schema version, as PRAGMA application_id and user_version do in an
// SQLite file) and the ledger's tables, made by Migrations: step N here
// is the PostgreSQL form of the SQLite engine's step N. Column types are
// chosen so that every row reads back as the same Go values as on SQLite
// (text, bytea, bigint; times and JSON kept as text, byte for byte), so
// the audit log's row hashes, and so its whole chain, are the same on
// both engines, and a ledger copied from one to the other verifies with
// every hash unchanged. Text columns use the "C" collation: comparisons
// and ordering are bytewise whatever the database's locale, as SQLite's
// are.
//
// The guard triggers of the SQLite schema exist here too, as plpgsql
// triggers, plus TRUNCATE guards (TRUNCATE skips row triggers). As on
// SQLite they stop accidents, not an owner of the tables, who can disable
// them; the chain is what detects tampering, and a role that may only
// insert and update (see the README) cannot disable them at all.
//
// # Concurrency: row lock, not SERIALIZABLE
//
// One key, one machine must hold with any number of olr-sign processes
// on any number of hosts. Every write transaction (BeginWrite) is READ
// COMMITTED and first locks the audit head's row (SELECT … FOR UPDATE).
// Every write appends to the one audit chain and so moves that one head:
// writers are serialised by it in any case, and the lock makes them queue
// for it up front, as SQLite's BEGIN IMMEDIATE does. Once the lock is
// granted, each statement sees every transaction committed before, so
// "is this key active?" and the activation that follows cannot be
// interleaved with another writer's; the unique index on the active
// activation of a key stands behind it.
//
// SERIALIZABLE would be correct too, but since any two writers touch the
// same head, it would abort one of nearly every pair of concurrent
// writers at commit (SQLSTATE 40001), after it had done its work (a
// batch transaction holds a hundred signed licenses), and have it run
// again; the lock has it wait instead, and nothing is done twice.
// REPEATABLE READ cannot be used with the lock: its snapshot is taken
// before the lock is granted, so the server refuses the transaction that
// waited (40001) instead of letting it see the winner's commit.
//
// Failures that the server says may succeed when run again — a lock not
// granted within LockTimeout (55P03), a deadlock (40P01) or a
// serialisation failure (40001) — are Retryable: the ledger runs the
// transaction again, a few times, as it does on SQLite's SQLITE_BUSY.
//
// Readers (BeginRead) use a REPEATABLE READ, read-only transaction: one
// snapshot for all their statements, so that Verify, which reads the
// audit log and then every table, never sees half of a commit. They take
// no lock and never wait for a writer. Locking the head needs UPDATE on
// audit_head, which a role that may only read lacks, so an auditor cannot
// stall the writers. Migrations (BeginSchema) take an advisory lock, so
// two processes opening a new database at once do not both create it.
package postgres
