// Package portal is the vendor's support desk: the web pages and JSON API
// that support staff use every day to answer activation requests, on the
// same issuing rules (package signer) and ledger (package ledger) as the
// olr-sign command line. olr-sign serve runs it.
//
// # Pages
//
//   - Inbox: upload req.olr files, or paste armored requests or the texts
//     of a request's QR codes (olr/parts, in any order). Each request is
//     decrypted and shown with what the vendor needs before signing: the
//     licensee and key as sold, and how they differ (case, Unicode form);
//     the key's type and entitlements; the fingerprint and machine kind;
//     what the clone audit (signer/clones) finds for this machine and key
//     (a clone, a machine under several keys, a key on several machines,
//     a weak fingerprint, a software TPM, a container); and what issuing
//     would do (signer.Issuer.DryRun: issue, re-issue, replay, transfer,
//     or the rule that refuses it, with the text to send the customer).
//   - Issue: records the activation under the signed-in account and hands
//     out license.olr (download or text).
//   - Keys: search, one key's sale, licenses and history (activations,
//     licenses, transfers, revocations) in time order; revoke a license;
//     import the keys sold.
//   - Pools: license pools (signer.Pools), their CALs, sources and keys
//     issued; create, add keys sold, issue a key, release one.
//   - Revocations: publish the signed revocation list (revoked.olr).
//   - Ledger: verification of the audit chain and the current anchor
//     (SEQ:HASH) to note elsewhere; the audit log.
//
// Every page has a JSON twin under /api (GET /keys and GET /api/keys), for
// scripts and tests; errors there are {"error": "..."}.
//
// # Accounts and roles
//
// Accounts live in the ledger (LedgerAccounts), so every desk sharing a
// ledger knows them and every change is audited. Support inspects and
// issues; admin also transfers, revokes, publishes the revocation list,
// imports keys and manages pools; an auditor only reads (and may inspect a request,
// which records nothing). Every change is recorded in the ledger's audit
// log under the signed-in account, and so is every sign-in.
//
// Passwords are hashed with argon2id. A session is a random token in an
// HttpOnly, SameSite=Strict cookie (Secure, and __Host- prefixed, under
// TLS); the server keeps its SHA-256 in memory, so a restart signs
// everyone out and a client stays with the desk instance it signed in to.
// Sessions end after an idle and an absolute timeout, at sign-out, and
// when the account is disabled or its password changes. Failed sign-ins
// are limited per account and per client address.
//
// # Web hardening
//
// Pages are server-rendered html/template with embedded assets (no CDN,
// no framework: the desk works air-gapped), under a Content-Security-Policy
// that allows only the desk's own style sheet and script. Cross-site
// requests that change anything are refused (http.CrossOriginProtection),
// every body is size-limited, and every request is logged as one
// structured line (log/slog). Text from requests is escaped by the
// templates and quoted in messages.
package portal
