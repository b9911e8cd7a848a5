// Package ledger is the vendor's record of what was sold and of every
// offline activation: a database that olr-sign reads and writes when it
// issues licenses, and an append-only, hash-chained audit log that lets
// anyone check later that the record was not rewritten.
//
// # Engines
//
// A ledger lives in an SQLite file (the default: nothing to install;
// package sqlite) or in a PostgreSQL database, named by a postgres://
// URL, which the olr-sign processes of a team share from several desks
// and hosts (package postgres). Open chooses by the location it is
// given. The two are behind Engine, and each engine package says how its
// database is opened, made, migrated and locked; this package holds
// every statement, rule and check once, so a ledger keeps the same audit
// chain, hash for hash, on either, and Copy moves one from an engine to
// the other. The tables, columns and guards below are the same on both.
//
// # Using it
//
// Open the ledger (DefaultPath gives the usual location: $OLR_LEDGER,
// else $XDG_DATA_HOME/olr/ledger.db, else ~/.local/share/olr/ledger.db),
// then make an issuing decision inside Ledger.Update: the function
// receives a Tx in one transaction that holds the ledger's write lock
// (see Concurrency), so it can read what the ledger records about a key
// and a request (Tx.KeyState), decide, and record the new activation,
// the license and the audit record with the certainty that no other
// process changes the key in between. Read-only work goes through
// Ledger.View. Ledger.Verify checks the whole ledger.
//
// The ledger stores; it does not decide. It enforces only what storage
// must guarantee whatever the caller does: a key sold once, at most one
// active activation per key, each license and request ID recorded once,
// and every change audited; and for license pools, that a pool never
// lets out more than its sources hold (pools.go). Which license a
// request deserves (OEM keys only, replay, re-issue, transfer) and what
// may be pooled are the issuing rules' business, in package signer. What a sale may hold is checked with olr's rules for a
// license (module names, language tags, quotas, text), so that a key the
// ledger accepts can be issued.
//
// Keys sold come from the sales system through ImportCSV or ImportJSON
// and Tx.ImportKeys.
//
// # Database
//
// An SQLite ledger is one file, created with mode 0600 in a 0700
// directory: it holds customers' hardware identifiers. It holds no
// secret key material. Each database records its schema version; Open
// applies the missing migrations in one transaction and refuses a
// database written by a newer version. Every time is stored as text in
// UTC with nine fraction digits ("2026-11-27T16:57:45.123456789Z");
// calendar dates as "YYYY-MM-DD". The tables (see each engine's
// schema.go for the exact definitions):
//
//   - sold_keys: license_key (primary key, case sensitive), licensee,
//     type (oem, meter, active-pool, evaluation), product, modules (JSON
//     object: name to non-negative integer or "unlimited"), languages
//     (JSON array), expires, maintenance (dates or NULL), created,
//     updated.
//   - issued_licenses: license_id (primary key), license_key, request_id
//     (unique: a replayed request finds its license), file (the
//     license.olr bytes), issued, operator, status (active, superseded,
//     revoked). Never deleted; only status changes, and revoked is final.
//   - activations: id, license_key, fingerprint (JSON of the raw factors
//     from the request), license_id, request_id, state (active,
//     superseded, transferred-away, revoked), created, ended. A unique
//     partial index allows one active activation per key.
//   - transfers: id, license_key, from_license, to_license, time,
//     operator, reason.
//   - revocations: license_id (primary key), reason, time, operator.
//   - crl_counter: one row holding the last CRL number handed out; it
//     only grows.
//   - pools: name (primary key, case sensitive), licensee and product
//     (those of every key of the pool, set by its first key; NULL until
//     then), created.
//   - pool_keys: license_key (primary key: a key is in one pool, for
//     good), pool, role (source: a key sold, converted into the pool's
//     CALs; issued: a key issued from the pool), added, released (when
//     an issued key gave its CALs back; NULL while it holds them). A
//     pool's balance is computed from its keys' sales (pools.go).
//   - audit: the log (below); audit_head: one row holding the seq and
//     hash of the latest audit record.
//
// Triggers refuse updates and deletes of the audit log, of revocations,
// of issued licenses' content, of pools and of pooled keys. They prevent accidents only: someone
// with the file can drop them. Tampering is detected by Verify.
//
// # Audit log
//
// Every change made through a Tx appends, in the same transaction, one
// record to the table audit: seq (1, 2, 3, ... without gaps), time,
// operator, action (key.create, key.update, keys.import, activate,
// supersede, transfer, revoke, crl.number, pool.create, pool.add,
// pool.issue, pool.release, or a policy event written by Tx.Log),
// subject (the license key, license ID, pool name, import source or
// "crl"),
// details (a JSON object), prev_hash and hash (64 lowercase hex digits).
//
// A record's hash is SHA-256 over the concatenation of eight fields, each
// encoded as its length in bytes (an unsigned 64-bit big-endian integer)
// followed by its bytes:
//
//  1. the label "olr-ledger-audit-v1"
//  2. seq, as an 8-byte big-endian integer
//  3. time, the stored text
//  4. operator, UTF-8
//  5. action, UTF-8
//  6. subject, UTF-8
//  7. details, the stored JSON text, byte for byte
//  8. prev_hash, the previous record's hash as 32 raw bytes (32 zero
//     bytes for record 1)
//
// audit_head is updated in the same transaction, so deleting the last
// records of the log is detected too (unless the head is rewritten as
// well; note the head — Tx.Head — somewhere else from time to time to
// rule that out).
//
// Records that write data rows list them in details under "rows": an
// array of {"table", "id", "sha256"}, where id is the row's primary key
// as text and sha256 is the hash of the row as it stood after the change:
// SHA-256 over the label "olr-ledger-row-v1" and the table name (both
// length-prefixed as above), then each column in declaration order,
// encoded as one type byte and, except for NULL, a length-prefixed value:
//
//	0x00                    NULL
//	0x01 len decimal-ASCII  INTEGER
//	0x02 len UTF-8 bytes    TEXT
//	0x03 len bytes          BLOB
//
// Verify walks the chain from record 1 to the head, checking each hash,
// each link and the sequence, then checks that every row of the audited
// tables has exactly the hash its latest audit record gives, and that no
// row an audit record names is missing. So an edited, reordered or
// deleted audit record, a truncated log, and a data row edited, inserted
// or deleted without going through olr are all reported, as a
// *ChainError naming the audit record.
//
// An auditor can re-check the chain with another tool: read the audit
// table ordered by seq with the sqlite3 shell (or psql) and recompute
// the hashes with the encoding above.
//
// # Compatibility
//
// The two hash encodings, the labels, the action names and the "rows"
// details are part of the ledger format: a ledger written today must
// verify with any later version. A change to any of them needs a new
// label ("olr-ledger-audit-v2") and a migration, and Verify must keep
// accepting records made under the old one. Schema changes are appended
// to the migration list, never edited in place.
//
// # Concurrency
//
// Update takes the ledger's write lock when the transaction starts
// (SQLite's, by BEGIN IMMEDIATE; on PostgreSQL the row lock of the audit
// head), so two olr-sign processes issuing for the same key serialise,
// on one host or several: the second sees the first's activation and
// Activate refuses it with ErrAlreadyActive. Reads (View, Verify) see a
// snapshot and do not block writers.
package ledger
