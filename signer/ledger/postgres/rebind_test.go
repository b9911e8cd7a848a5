package postgres

import "testing"

func TestRebind(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT a FROM t WHERE b = ? AND c = ?", "SELECT a FROM t WHERE b = $1 AND c = $2"},
		{"SELECT (SELECT x FROM t WHERE k = ?1), ?2, ?1, ?3", "SELECT (SELECT x FROM t WHERE k = $1), $2, $1, $3"},
		{"SELECT '?' || ? || \"odd?name\"", "SELECT '?' || $1 || \"odd?name\""},
		{"INSERT INTO t VALUES (?, 'it''s ?', ?)", "INSERT INTO t VALUES ($1, 'it''s ?', $2)"},
	}
	for _, tc := range tests {
		if got := Rebind(tc.in); got != tc.want {
			t.Errorf("Rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
