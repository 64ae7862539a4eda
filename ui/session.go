package ui

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"

	"github.com/tapline/tapline/query"
)

// session is one signed-in browser. The cookie holds a random id; the store
// keeps only its SHA-256, with the token the UI calls the API with.
type session struct {
	key     [sha256.Size]byte
	token   string
	caller  query.Caller
	csrf    string
	created time.Time
	expires time.Time
	via     string // "token" or "sso"
}

// sessionStore keeps sessions in memory: a restart signs everyone out.
type sessionStore struct {
	ttl time.Duration
	max int

	mu   sync.Mutex
	byID map[[sha256.Size]byte]*session
}

func newSessionStore(ttl time.Duration, max int) *sessionStore {
	return &sessionStore{ttl: ttl, max: max, byID: make(map[[sha256.Size]byte]*session)}
}

// create starts a session and returns the cookie value for it.
func (st *sessionStore) create(now time.Time, token string, c query.Caller, via string) (string, *session) {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	cookie := base64.RawURLEncoding.EncodeToString(raw)
	s := &session{
		key: sha256.Sum256([]byte(cookie)), token: token, caller: c, csrf: randomHex(32),
		created: now, expires: now.Add(st.ttl), via: via,
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for k, old := range st.byID {
		if !now.Before(old.expires) {
			delete(st.byID, k)
		}
	}
	for len(st.byID) >= st.max {
		var oldest *session
		for _, old := range st.byID {
			if oldest == nil || old.created.Before(oldest.created) {
				oldest = old
			}
		}
		delete(st.byID, oldest.key)
	}
	st.byID[s.key] = s
	return cookie, s
}

// get returns the live session of a cookie value.
func (st *sessionStore) get(now time.Time, cookie string) *session {
	if cookie == "" {
		return nil
	}
	key := sha256.Sum256([]byte(cookie))
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.byID[key]
	if s == nil {
		return nil
	}
	if !now.Before(s.expires) {
		delete(st.byID, key)
		return nil
	}
	return s
}

func (st *sessionStore) delete(key [sha256.Size]byte) {
	st.mu.Lock()
	delete(st.byID, key)
	st.mu.Unlock()
}

func (st *sessionStore) len() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.byID)
}
