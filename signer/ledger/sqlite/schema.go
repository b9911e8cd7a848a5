package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// ApplicationID marks the file as an olr ledger ("olrL", in PRAGMA
// application_id), so that some other SQLite database the ledger is
// pointed at by mistake is never taken for one, nor migrated.
const ApplicationID = 0x6f6c724c

// Migrations are the schema steps, in order. Migrations[i] brings the
// schema from version i to i+1 (PRAGMA user_version). Step N makes the
// same tables and columns as the PostgreSQL engine's step N. Never edit
// a step that has shipped: append a new one, on both engines.
var Migrations = []string{
	// 1: initial schema.
	`
CREATE TABLE sold_keys (
	license_key TEXT PRIMARY KEY NOT NULL,
	licensee    TEXT NOT NULL,
	type        TEXT NOT NULL CHECK (type IN ('oem', 'meter', 'active-pool', 'evaluation')),
	product     TEXT NOT NULL,
	modules     TEXT NOT NULL,  -- JSON object: module name -> integer or "unlimited"
	languages   TEXT NOT NULL,  -- JSON array of language tags
	expires     TEXT,           -- YYYY-MM-DD, NULL for none
	maintenance TEXT,           -- YYYY-MM-DD, NULL for none
	created     TEXT NOT NULL,
	updated     TEXT NOT NULL
) STRICT;

CREATE TABLE issued_licenses (
	license_id  TEXT PRIMARY KEY NOT NULL,
	license_key TEXT NOT NULL REFERENCES sold_keys (license_key),
	request_id  TEXT NOT NULL UNIQUE,
	file        BLOB NOT NULL,
	issued      TEXT NOT NULL,
	operator    TEXT NOT NULL,
	status      TEXT NOT NULL CHECK (status IN ('active', 'superseded', 'revoked'))
) STRICT;
CREATE INDEX issued_licenses_by_key ON issued_licenses (license_key);

CREATE TABLE activations (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	license_key TEXT NOT NULL REFERENCES sold_keys (license_key),
	fingerprint TEXT NOT NULL,  -- JSON of the raw factors from the request
	license_id  TEXT NOT NULL UNIQUE REFERENCES issued_licenses (license_id),
	request_id  TEXT NOT NULL UNIQUE,
	state       TEXT NOT NULL CHECK (state IN ('active', 'superseded', 'transferred-away', 'revoked')),
	created     TEXT NOT NULL,
	ended       TEXT
) STRICT;
-- One key, one machine: at most one active activation per key, enforced
-- by the database even if the policy forgets to check.
CREATE UNIQUE INDEX activations_one_active ON activations (license_key) WHERE state = 'active';
CREATE INDEX activations_by_key ON activations (license_key);

CREATE TABLE transfers (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	license_key  TEXT NOT NULL REFERENCES sold_keys (license_key),
	from_license TEXT NOT NULL REFERENCES issued_licenses (license_id),
	to_license   TEXT NOT NULL REFERENCES issued_licenses (license_id),
	time         TEXT NOT NULL,
	operator     TEXT NOT NULL,
	reason       TEXT NOT NULL
) STRICT;

CREATE TABLE revocations (
	license_id TEXT PRIMARY KEY NOT NULL REFERENCES issued_licenses (license_id),
	reason     TEXT NOT NULL,
	time       TEXT NOT NULL,
	operator   TEXT NOT NULL
) STRICT;

CREATE TABLE crl_counter (
	id     INTEGER PRIMARY KEY CHECK (id = 1),
	number INTEGER NOT NULL CHECK (number > 0)
) STRICT;

CREATE TABLE audit (
	seq       INTEGER PRIMARY KEY,  -- 1, 2, 3, ... without gaps
	time      TEXT NOT NULL,
	operator  TEXT NOT NULL,
	action    TEXT NOT NULL,
	subject   TEXT NOT NULL,
	details   TEXT NOT NULL,        -- JSON, hashed as stored
	prev_hash TEXT NOT NULL,        -- lowercase hex
	hash      TEXT NOT NULL         -- lowercase hex
) STRICT;

-- The latest audit record, kept apart so that deleting the last records
-- of the log is detected.
CREATE TABLE audit_head (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	seq  INTEGER NOT NULL,
	hash TEXT NOT NULL
) STRICT;
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Guards against accidents. They do not stop a determined editor (who can
-- drop them); the hash chain and Verify are what detect tampering.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'olr ledger: the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'olr ledger: the audit log is append-only'); END;
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
BEGIN SELECT RAISE(ABORT, 'olr ledger: the audit head cannot be deleted'); END;
CREATE TRIGGER revocations_no_update BEFORE UPDATE ON revocations
BEGIN SELECT RAISE(ABORT, 'olr ledger: revocations are final'); END;
CREATE TRIGGER revocations_no_delete BEFORE DELETE ON revocations
BEGIN SELECT RAISE(ABORT, 'olr ledger: revocations are final'); END;
CREATE TRIGGER crl_counter_grows BEFORE UPDATE ON crl_counter WHEN NEW.number <= OLD.number
BEGIN SELECT RAISE(ABORT, 'olr ledger: the CRL number only grows'); END;
CREATE TRIGGER issued_licenses_immutable BEFORE UPDATE OF license_id, license_key, request_id, file, issued, operator ON issued_licenses
BEGIN SELECT RAISE(ABORT, 'olr ledger: an issued license cannot be changed'); END;
CREATE TRIGGER issued_licenses_revoked_final BEFORE UPDATE OF status ON issued_licenses WHEN OLD.status = 'revoked' AND NEW.status <> 'revoked'
BEGIN SELECT RAISE(ABORT, 'olr ledger: a revoked license stays revoked'); END;
CREATE TRIGGER issued_licenses_no_delete BEFORE DELETE ON issued_licenses
BEGIN SELECT RAISE(ABORT, 'olr ledger: issued licenses are never deleted'); END;
`,
	// 2: the support desk's accounts.
	`
CREATE TABLE accounts (
	name          TEXT PRIMARY KEY NOT NULL,
	role          TEXT NOT NULL CHECK (role IN ('support', 'admin', 'auditor')),
	password_hash TEXT NOT NULL,  -- argon2id, PHC string form
	disabled      INTEGER NOT NULL CHECK (disabled IN (0, 1)),
	created       TEXT NOT NULL,
	updated       TEXT NOT NULL
) STRICT;
CREATE TRIGGER accounts_no_delete BEFORE DELETE ON accounts
BEGIN SELECT RAISE(ABORT, 'olr ledger: accounts are disabled, never deleted'); END;
`,
	// 3: license pools.
	`
-- A pool holds the CALs of keys of one licensee and one product, set by
-- the first key added.
CREATE TABLE pools (
	name     TEXT PRIMARY KEY NOT NULL,
	licensee TEXT,
	product  TEXT,
	created  TEXT NOT NULL
) STRICT;

-- The keys of a pool: its sources (keys sold, converted into the pool's
-- CALs) and the keys issued from it. A key belongs to one pool, for good.
CREATE TABLE pool_keys (
	license_key TEXT PRIMARY KEY NOT NULL REFERENCES sold_keys (license_key),
	pool        TEXT NOT NULL REFERENCES pools (name),
	role        TEXT NOT NULL CHECK (role IN ('source', 'issued')),
	added       TEXT NOT NULL,
	released    TEXT,  -- when an issued key gave its CALs back; NULL while it holds them
	CHECK (released IS NULL OR role = 'issued')
) STRICT;
CREATE INDEX pool_keys_by_pool ON pool_keys (pool);

CREATE TRIGGER pools_no_delete BEFORE DELETE ON pools
BEGIN SELECT RAISE(ABORT, 'olr ledger: pools are never deleted'); END;
CREATE TRIGGER pools_fixed BEFORE UPDATE ON pools
WHEN NEW.name IS NOT OLD.name OR NEW.created IS NOT OLD.created
	OR (OLD.licensee IS NOT NULL AND NEW.licensee IS NOT OLD.licensee)
	OR (OLD.product IS NOT NULL AND NEW.product IS NOT OLD.product)
BEGIN SELECT RAISE(ABORT, 'olr ledger: a pool keeps its licensee and product'); END;
CREATE TRIGGER pool_keys_no_delete BEFORE DELETE ON pool_keys
BEGIN SELECT RAISE(ABORT, 'olr ledger: a pooled key stays pooled'); END;
CREATE TRIGGER pool_keys_fixed BEFORE UPDATE OF license_key, pool, role, added ON pool_keys
BEGIN SELECT RAISE(ABORT, 'olr ledger: a pooled key stays pooled'); END;
CREATE TRIGGER pool_keys_released_final BEFORE UPDATE OF released ON pool_keys WHEN OLD.released IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'olr ledger: a released key stays released'); END;
`,
}

// Guards are the guard triggers, which Verify expects to find.
var Guards = []string{
	"audit_no_update", "audit_no_delete", "audit_head_no_delete",
	"revocations_no_update", "revocations_no_delete", "crl_counter_grows",
	"issued_licenses_immutable", "issued_licenses_revoked_final",
	"issued_licenses_no_delete", "accounts_no_delete",
	"pools_no_delete", "pools_fixed", "pool_keys_no_delete", "pool_keys_fixed",
	"pool_keys_released_final",
}

// State is what a database file says about itself.
type State struct {
	Version       int // PRAGMA user_version: the schema steps applied
	ApplicationID int // PRAGMA application_id
	Objects       int // tables, indexes and triggers
}

// Empty reports whether the database holds nothing at all: a new file,
// a 0-byte one, or one truncated to its header.
func (s State) Empty() bool { return s == State{} }

// queryer is a *sql.DB or a *sql.Tx.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// readState reads the schema version and application ID without taking
// any lock: a plain read, which a writer in WAL mode does not block.
func readState(ctx context.Context, q queryer) (State, error) {
	var st State
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&st.Version); err != nil {
		return st, fmt.Errorf("reading schema version: %w", err)
	}
	if err := q.QueryRowContext(ctx, "PRAGMA application_id").Scan(&st.ApplicationID); err != nil {
		return st, fmt.Errorf("reading application id: %w", err)
	}
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&st.Objects); err != nil {
		return st, fmt.Errorf("reading schema: %w", err)
	}
	return st, nil
}

// State returns what the database says about itself, as tx sees it.
func (e *Engine) State(ctx context.Context, tx *sql.Tx) (State, error) {
	return readState(ctx, tx)
}

// Steps returns the number of schema steps this code knows.
func (e *Engine) Steps() int { return len(Migrations) }

// Migrate applies the steps after version from, and records the new
// version and the application ID, in tx (from BeginSchema): a crash or
// a second process never sees half a migration.
func (e *Engine) Migrate(ctx context.Context, tx *sql.Tx, from int) error {
	for i := from; i < len(Migrations); i++ {
		if _, err := tx.ExecContext(ctx, Migrations[i]); err != nil {
			return fmt.Errorf("migrating schema to version %d: %w", i+1, err)
		}
	}
	// PRAGMA arguments cannot be bound parameters; both are integers.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", ApplicationID)); err != nil {
		return fmt.Errorf("setting application id: %w", err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(Migrations))); err != nil {
		return fmt.Errorf("setting schema version: %w", err)
	}
	return nil
}
