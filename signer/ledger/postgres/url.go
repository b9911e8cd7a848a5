package postgres

import (
	"net/url"
	"strings"
)

// IsURL reports whether location names a PostgreSQL database
// (postgres:// or postgresql://) rather than a file.
func IsURL(location string) bool {
	l := strings.ToLower(location)
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}

// passwordParams are the query parameters of a connection URL that hold
// secrets.
var passwordParams = []string{"password", "sslpassword"}

// Redact returns the connection URL with its password (in the user
// information or a password parameter) replaced by "xxxxx", for every
// message and log line that names the ledger. A URL that does not parse
// is reduced to its scheme, since where its password sits is unknown.
func Redact(location string) string {
	u, err := url.Parse(location)
	if err != nil {
		for _, scheme := range []string{"postgres://", "postgresql://"} {
			if len(location) >= len(scheme) && strings.EqualFold(location[:len(scheme)], scheme) {
				return location[:len(scheme)] + "(unparsable URL)"
			}
		}
		return "(unparsable URL)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			u.RawQuery = "(unparsable)"
		} else {
			for k := range q {
				for _, p := range passwordParams {
					if strings.EqualFold(k, p) {
						q.Set(k, "xxxxx")
					}
				}
			}
			u.RawQuery = q.Encode()
		}
	}
	return u.String()
}
