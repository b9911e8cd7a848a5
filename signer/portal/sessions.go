package portal

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"
)

// Sessions: a random token in a cookie, the server keeping only its
// SHA-256 (a copy of the table gives no way in). A session ends after
// IdleTimeout without a request, after AbsoluteTimeout whatever happens,
// at sign-out, and when its account is disabled or its password changes.

// Default session lifetimes.
const (
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 12 * time.Hour
)

// maxSessions bounds the sessions held in memory; past it, the oldest
// are dropped.
const maxSessions = 10_000

type session struct {
	account string
	// pwTag identifies the password the session was opened with: a
	// password change ends the account's sessions.
	pwTag    [32]byte
	created  time.Time
	lastSeen time.Time
}

// sessionStore holds the open sessions of this server process.
type sessionStore struct {
	mu       sync.Mutex
	sessions map[[32]byte]*session
	idle     time.Duration
	absolute time.Duration
}

func newSessionStore(idle, absolute time.Duration) *sessionStore {
	return &sessionStore{sessions: map[[32]byte]*session{}, idle: idle, absolute: absolute}
}

func passwordTag(hash string) [32]byte {
	return sha256.Sum256([]byte("olr-portal-session-pw\x00" + hash))
}

// open starts a session for a and returns its token.
func (s *sessionStore) open(a *Account, now time.Time) string {
	var raw [32]byte
	rand.Read(raw[:])
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sessions) >= maxSessions {
		s.prune(now)
	}
	for len(s.sessions) >= maxSessions {
		var oldest [32]byte
		var t time.Time
		for k, v := range s.sessions {
			if t.IsZero() || v.created.Before(t) {
				oldest, t = k, v.created
			}
		}
		delete(s.sessions, oldest)
	}
	s.sessions[sha256.Sum256([]byte(token))] = &session{account: a.Name, pwTag: passwordTag(a.PasswordHash), created: now, lastSeen: now}
	return token
}

// lookup returns the session of token, touching it, or nil when there is
// none or it has expired (and is then forgotten).
func (s *sessionStore) lookup(token string, now time.Time) *session {
	if token == "" {
		return nil
	}
	k := sha256.Sum256([]byte(token))
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[k]
	if ss == nil {
		return nil
	}
	if s.expired(ss, now) {
		delete(s.sessions, k)
		return nil
	}
	ss.lastSeen = now
	c := *ss
	return &c
}

func (s *sessionStore) expired(ss *session, now time.Time) bool {
	return now.Sub(ss.lastSeen) >= s.idle || now.Sub(ss.created) >= s.absolute
}

// close ends the session of token.
func (s *sessionStore) close(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, sha256.Sum256([]byte(token)))
}

// prune drops expired sessions; the caller holds mu.
func (s *sessionStore) prune(now time.Time) {
	for k, v := range s.sessions {
		if s.expired(v, now) {
			delete(s.sessions, k)
		}
	}
}
