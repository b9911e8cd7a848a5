package signer

import (
	"context"
	"errors"
	"testing"

	"github.com/olr-dev/olr/olr"
	"github.com/olr-dev/olr/signer/ledger"
)

// TestDryRun checks that DryRun decides as Issue then does, and records
// nothing: for a first activation, a re-issue, a replay, another machine
// (refused, then a transfer with a reason) and an unknown key.
func TestDryRun(t *testing.T) {
	ctx := context.Background()
	e := newBatchEnv(t, 2)
	is := &Issuer{Keys: e.keys, Ledger: e.ledger}
	request := func(key string, m int) *olr.Request {
		t.Helper()
		req, err := olr.NewRequest(testProduct, testLicensee, key, "host", "test", machine(m), is.now())
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	head := func() ledger.AuditHead {
		t.Helper()
		h, err := e.ledger.Head(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	first, again, other := request(batchKey(0), 1), request(batchKey(0), 1), request(batchKey(0), 2)
	for _, tc := range []struct {
		name string
		req  *olr.Request
		opts *IssueOptions
		want Outcome
		rule string
	}{
		{"first activation", first, nil, Issued, ""},
		{"replay", first, nil, Replayed, ""},
		{"re-issue to the same machine", again, nil, Reissued, ""},
		{"another machine", other, nil, "", RuleOneKeyOneMachine},
		{"transfer", other, &IssueOptions{Transfer: "new server"}, Transferred, ""},
		{"unknown key", request("OEM-NOT-SOLD", 3), nil, "", RuleUnknownKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := head()
			d, err := is.DryRun(ctx, tc.req, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if head() != before {
				t.Fatal("the dry run wrote to the ledger")
			}
			if tc.rule != "" {
				if d.Refused == nil || d.Refused.Rule != tc.rule {
					t.Fatalf("dry run: refused %v, want rule %s", d.Refused, tc.rule)
				}
				if d.Result() != nil {
					t.Fatal("a refusal has a result")
				}
			} else if d.Refused != nil || d.Outcome != tc.want {
				t.Fatalf("dry run: outcome %q refused %v, want %s", d.Outcome, d.Refused, tc.want)
			}
			res, err := is.Issue(ctx, tc.req, tc.opts, "test")
			var refused *RefusedError
			switch {
			case tc.rule != "":
				if !errors.As(err, &refused) || refused.Rule != tc.rule {
					t.Fatalf("issue: %v, want refusal %s", err, tc.rule)
				}
			case err != nil:
				t.Fatal(err)
			case res.Outcome != tc.want || res.Superseded != d.Superseded:
				t.Fatalf("issue: %s replacing %q, dry run said %s replacing %q", res.Outcome, res.Superseded, d.Outcome, d.Superseded)
			}
		})
	}
}
