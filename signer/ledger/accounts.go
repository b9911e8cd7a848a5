package ledger

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Accounts of the support desk (olr-sign serve): who may sign in, with
// which role, and their password hash. They live in the ledger so that
// every desk sharing it knows the same accounts, and so that every change
// to them is in the audit log under the operator who made it. The ledger
// stores the hash it is given (argon2id, from the desk); it never sees a
// password.

// Account is a support desk account.
type Account struct {
	// Name is what the audit log records as the operator of the
	// account's actions.
	Name string
	// Role is support, admin or auditor.
	Role string
	// PasswordHash is the password's hash in PHC string form.
	PasswordHash string
	Disabled     bool
	// Created and Updated are set by the ledger.
	Created time.Time
	Updated time.Time
}

// AccountRoles are the roles an account may have.
var AccountRoles = []string{"support", "admin", "auditor"}

var accountCols = tableSpec("accounts").cols

func scanAccount(row scanner) (*Account, error) {
	var a Account
	var disabled int64
	var created, updated string
	if err := row.Scan(&a.Name, &a.Role, &a.PasswordHash, &disabled, &created, &updated); err != nil {
		return nil, err
	}
	a.Disabled = disabled != 0
	var err error
	if a.Created, err = parseTime(created); err != nil {
		return nil, fmt.Errorf("account created time: %w", err)
	}
	if a.Updated, err = parseTime(updated); err != nil {
		return nil, fmt.Errorf("account updated time: %w", err)
	}
	return &a, nil
}

// Account returns the named account, or an error wrapping ErrNotFound.
func (tx *Tx) Account(name string) (*Account, error) {
	a, err := scanAccount(tx.queryRow("SELECT "+accountCols+" FROM accounts WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("account")
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: reading account: %w", err)
	}
	return a, nil
}

// Accounts returns every account, ordered by name.
func (tx *Tx) Accounts() ([]Account, error) {
	return queryAll(tx, "reading accounts", scanAccount, "SELECT "+accountCols+" FROM accounts ORDER BY name")
}

// PutAccount creates the account a, or updates its role, password hash
// and state, and audits the change (account.create, account.update: the
// details name what changed, never the hash). Storing the same account
// again writes nothing. a.Created and a.Updated are set.
func (tx *Tx) PutAccount(a *Account) error {
	return tx.atomic(func() error { return tx.putAccount(a) })
}

func (tx *Tx) putAccount(a *Account) error {
	if err := checkText("account name", a.Name, maxOperatorLen, false); err != nil {
		return err
	}
	if !slices.Contains(AccountRoles, a.Role) {
		return invalid("role", "%q is not one of %s", printable(a.Role), strings.Join(AccountRoles, ", "))
	}
	if err := checkText("password hash", a.PasswordHash, maxTextLen, false); err != nil {
		return err
	}
	old, err := tx.Account(a.Name)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	disabled := int64(0)
	if a.Disabled {
		disabled = 1
	}
	now := formatTime(tx.now)
	ref := rowKey{"accounts", a.Name}
	if old == nil {
		if _, err := tx.exec("INSERT INTO accounts ("+accountCols+") VALUES (?, ?, ?, ?, ?, ?)",
			a.Name, a.Role, a.PasswordHash, disabled, now, now); err != nil {
			return constraintError("recording account", err)
		}
		a.Created, a.Updated = tx.now, tx.now
		return tx.audit(ActionAccountCreate, a.Name, map[string]any{"role": a.Role, "disabled": a.Disabled}, ref)
	}
	var changed []string
	if old.Role != a.Role {
		changed = append(changed, "role")
	}
	if old.PasswordHash != a.PasswordHash {
		changed = append(changed, "password")
	}
	if old.Disabled != a.Disabled {
		changed = append(changed, "disabled")
	}
	if len(changed) == 0 {
		a.Created, a.Updated = old.Created, old.Updated
		return nil
	}
	if _, err := tx.exec("UPDATE accounts SET role = ?, password_hash = ?, disabled = ?, updated = ? WHERE name = ?",
		a.Role, a.PasswordHash, disabled, now, a.Name); err != nil {
		return fmt.Errorf("ledger: updating account: %w", err)
	}
	a.Created, a.Updated = old.Created, tx.now
	return tx.audit(ActionAccountUpdate, a.Name,
		map[string]any{"changed": changed, "role": a.Role, "disabled": a.Disabled}, ref)
}
