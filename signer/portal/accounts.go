package portal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/olr-dev/olr/signer/ledger"
)

// Role is what an account may do on the support desk.
type Role string

// The roles, from the least to the most trusted for changes: an auditor
// only reads; support inspects requests and issues licenses; an admin
// also transfers keys, revokes licenses, publishes the revocation list
// and imports the keys sold.
const (
	RoleAuditor Role = "auditor"
	RoleSupport Role = "support"
	RoleAdmin   Role = "admin"
)

// Roles lists the roles in the order the command line shows them.
var Roles = []Role{RoleSupport, RoleAdmin, RoleAuditor}

// ParseRole parses a role name.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !slices.Contains(Roles, r) {
		return "", fmt.Errorf("unknown role %q (want support, admin or auditor)", s)
	}
	return r, nil
}

// Permission is one kind of action a page or API call performs.
type Permission int

// Permissions, each granted to the roles Allows lists.
const (
	// PermRead: keys, licenses, the ledger's status, the audit log.
	PermRead Permission = iota
	// PermInspect: decrypt a request and show what issuing would do.
	PermInspect
	// PermIssue: answer a request, recording the activation.
	PermIssue
	// PermAdmin: transfer, revoke, publish the revocation list, import
	// keys sold.
	PermAdmin
)

// Allows reports whether role r has permission p.
func (r Role) Allows(p Permission) bool {
	switch p {
	case PermRead, PermInspect:
		return r == RoleAuditor || r == RoleSupport || r == RoleAdmin
	case PermIssue:
		return r == RoleSupport || r == RoleAdmin
	case PermAdmin:
		return r == RoleAdmin
	}
	return false
}

// Account is a support desk account. Its name is what the ledger records
// as the operator of every action taken under it.
type Account struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
	// PasswordHash is the argon2id hash in PHC string form (HashPassword).
	PasswordHash string    `json:"-"`
	Disabled     bool      `json:"disabled"`
	Created      time.Time `json:"created"`
	Updated      time.Time `json:"updated"`
}

// ErrNoAccount is returned for an account that does not exist.
var ErrNoAccount = errors.New("no such account")

// Accounts stores the desk's accounts. The ledger holds them, so that
// every instance of the desk sharing a ledger knows the same accounts,
// and every change is in the audit log under operator.
type Accounts interface {
	// Account returns the named account, or an error wrapping
	// ErrNoAccount.
	Account(ctx context.Context, name string) (*Account, error)
	// ListAccounts returns every account, by name.
	ListAccounts(ctx context.Context) ([]Account, error)
	// PutAccount creates or updates a (by name), recording the change
	// in the audit log under operator.
	PutAccount(ctx context.Context, operator string, a *Account) error
}

// MaxNameLen bounds an account name, as the ledger bounds an operator.
const MaxNameLen = 64

// CheckName checks an account name: 1 to MaxNameLen characters, letters,
// digits, '.', '-', '_' and '@', so that it reads the same in the audit
// log, a shell and a page.
func CheckName(name string) error {
	if name == "" || utf8.RuneCountInString(name) > MaxNameLen {
		return fmt.Errorf("account name must be 1 to %d characters", MaxNameLen)
	}
	for _, c := range name {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_' || c == '@'
		if !ok {
			return fmt.Errorf("account name %q: use letters, digits, '.', '-', '_' and '@'", name)
		}
	}
	return nil
}

// LedgerAccounts keeps the accounts in the ledger l: every desk sharing
// the ledger knows the same accounts, and every change is audited.
func LedgerAccounts(l *ledger.Ledger) Accounts { return ledgerAccounts{l} }

type ledgerAccounts struct{ l *ledger.Ledger }

func fromLedger(a *ledger.Account) *Account {
	return &Account{Name: a.Name, Role: Role(a.Role), PasswordHash: a.PasswordHash, Disabled: a.Disabled, Created: a.Created, Updated: a.Updated}
}

func (s ledgerAccounts) Account(ctx context.Context, name string) (*Account, error) {
	var a *ledger.Account
	err := s.l.View(ctx, func(tx *ledger.Tx) (err error) {
		a, err = tx.Account(name)
		return err
	})
	if errors.Is(err, ledger.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNoAccount, name)
	}
	if err != nil {
		return nil, err
	}
	return fromLedger(a), nil
}

func (s ledgerAccounts) ListAccounts(ctx context.Context) ([]Account, error) {
	var list []ledger.Account
	err := s.l.View(ctx, func(tx *ledger.Tx) (err error) {
		list, err = tx.Accounts()
		return err
	})
	out := make([]Account, len(list))
	for i := range list {
		out[i] = *fromLedger(&list[i])
	}
	return out, err
}

func (s ledgerAccounts) PutAccount(ctx context.Context, operator string, a *Account) error {
	la := &ledger.Account{Name: a.Name, Role: string(a.Role), PasswordHash: a.PasswordHash, Disabled: a.Disabled}
	err := s.l.Update(ctx, operator, func(tx *ledger.Tx) error { return tx.PutAccount(la) })
	a.Created, a.Updated = la.Created, la.Updated
	return err
}
