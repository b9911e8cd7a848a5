package postgres

import (
	"net/url"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://olr@db.example/ledger", "postgres://olr@db.example/ledger"},
		{"postgres://olr:s3cret@db.example:5433/ledger?sslmode=verify-full", "postgres://olr:xxxxx@db.example:5433/ledger?sslmode=verify-full"},
		{"postgresql://olr:s3cret@db.example/ledger", "postgresql://olr:xxxxx@db.example/ledger"},
		{"postgres://db.example/ledger?user=olr&password=s3cret", "postgres://db.example/ledger?password=xxxxx&user=olr"},
		{"postgres://db.example/ledger?sslpassword=s3cret&sslkey=k.pem", "postgres://db.example/ledger?sslkey=k.pem&sslpassword=xxxxx"},
		{"postgres://db.example/ledger?PassWord=s3cret", "postgres://db.example/ledger?PassWord=xxxxx"},
		{"postgres:///ledger?host=/run/postgresql", "postgres:///ledger?host=%2Frun%2Fpostgresql"},
		{"postgres://olr:s3%zzcret@db.example/ledger", "postgres://(unparsable URL)"},
		{"//:s3cret@host:A", "(unparsable URL)"},
		{"postgres://db.example/ledger?password=%zz", "postgres://db.example/ledger?(unparsable)"},
	}
	for _, tc := range tests {
		got := Redact(tc.in)
		if got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.Contains(got, "s3") {
			t.Errorf("Redact(%q) = %q still holds the password", tc.in, got)
		}
	}
}

func TestIsURL(t *testing.T) {
	for in, want := range map[string]bool{
		"postgres://h/db": true, "POSTGRESQL://h/db": true, "postgres:": false,
		"/var/lib/olr/ledger.db": false, "ledger.db": false, "postgres.db": false,
	} {
		if IsURL(in) != want {
			t.Errorf("IsURL(%q) = %v", in, !want)
		}
	}
}

// FuzzRedact: whatever the input, what Redact returns carries no
// password: parsed again, its user information and its password
// parameters hold only the mask.
func FuzzRedact(f *testing.F) {
	f.Add("postgres://olr:correct%20horse@db.example:5432/ledger?sslmode=require")
	f.Add("postgresql://db/ledger?password=a&password=b&sslpassword=c")
	f.Add("postgres://u:p@h/d?Password=x")
	f.Fuzz(func(t *testing.T, s string) {
		got := Redact(s)
		u, err := url.Parse(got)
		if err != nil {
			return
		}
		if p, has := u.User.Password(); has && p != "xxxxx" {
			t.Fatalf("Redact(%q) = %q keeps the password %q", s, got, p)
		}
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			t.Fatalf("Redact(%q) = %q has a query that does not parse: %v", s, got, err)
		}
		for k, vs := range q {
			for _, p := range passwordParams {
				if strings.EqualFold(k, p) {
					for _, v := range vs {
						if v != "xxxxx" {
							t.Fatalf("Redact(%q) = %q keeps %s=%q", s, got, k, v)
						}
					}
				}
			}
		}
	})
}
