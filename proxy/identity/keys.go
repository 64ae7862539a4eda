package identity

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// maxJWKSBytes bounds a fetched key set.
const maxJWKSBytes = 1 << 20

// keySet holds the current JWKS, read from a file or a URL, refreshed on a
// timer and, rate-limited, when a token names a key id it does not know (key
// rotation: the issuer publishes the new key before signing with it).
type keySet struct {
	cfg    JWTConfig
	clock  func() time.Time
	client *http.Client

	cur atomic.Pointer[keySnapshot]

	mu          sync.Mutex // serialises loads
	lastAttempt time.Time

	started  atomic.Bool
	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

type keySnapshot struct {
	set jwk.Set
	sum [32]byte
}

func newKeySet(cfg JWTConfig, clock func() time.Time) *keySet {
	return &keySet{
		cfg:    cfg,
		clock:  clock,
		client: &http.Client{Timeout: cfg.FetchTimeout},
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
}

func (k *keySet) start(ctx context.Context) error {
	k.started.Store(true)
	err := k.load(ctx)
	if err != nil && k.cfg.JWKSFile != "" {
		close(k.done)
		return err
	}
	go k.loop()
	return nil
}

func (k *keySet) loop() {
	defer close(k.done)
	t := time.NewTicker(k.cfg.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-k.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), k.cfg.FetchTimeout)
			_ = k.load(ctx) // the old set stays in use; the next tick retries
			cancel()
		}
	}
}

func (k *keySet) close() {
	k.stopOnce.Do(func() { close(k.stop) })
	if k.started.Load() {
		<-k.done
	}
}

// load reads the key set once and installs it when it parses.
func (k *keySet) load(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.loadLocked(ctx)
}

// refresh loads the key set unless a load was attempted less than
// MinRefreshInterval ago; concurrent callers wait for one load.
func (k *keySet) refresh(ctx context.Context) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.clock().Sub(k.lastAttempt) < k.cfg.MinRefreshInterval {
		return
	}
	_ = k.loadLocked(ctx) // failure leaves the current set in use
}

func (k *keySet) loadLocked(ctx context.Context) error {
	k.lastAttempt = k.clock()
	raw, err := k.read(ctx)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(raw)
	if old := k.cur.Load(); old != nil && old.sum == sum {
		return nil
	}
	set, err := jwk.Parse(raw)
	if err != nil {
		return fmt.Errorf("parse jwks: %w", err)
	}
	pub, err := jwk.PublicSetOf(set)
	if err != nil {
		return fmt.Errorf("public keys of jwks: %w", err)
	}
	k.cur.Store(&keySnapshot{set: pub, sum: sum})
	return nil
}

func (k *keySet) read(ctx context.Context) ([]byte, error) {
	if k.cfg.JWKSFile != "" {
		b, err := os.ReadFile(k.cfg.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("read jwks file: %w", err)
		}
		return b, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.cfg.JWKSURL, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch jwks: status %d", resp.StatusCode)
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read jwks: %w", err)
	}
	if n > maxJWKSBytes {
		return nil, errors.New("jwks larger than 1 MiB")
	}
	return buf.Bytes(), nil
}

// lookup finds the key for a token header, re-reading the key set (at most
// once per MinRefreshInterval) when the key id is unknown.
func (k *keySet) lookup(ctx context.Context, kid string, alg jwa.SignatureAlgorithm) (jwk.Key, error) {
	snap := k.cur.Load()
	if snap != nil {
		if key, ok := findKey(snap.set, kid, alg); ok {
			return key, nil
		}
	}
	k.refresh(ctx)
	if snap = k.cur.Load(); snap != nil {
		if key, ok := findKey(snap.set, kid, alg); ok {
			return key, nil
		}
	}
	if snap == nil {
		return nil, tokenErr(ReasonJWTKeysUnavailable, errors.New("no key set loaded"))
	}
	return nil, tokenErr(ReasonJWTUnknownKey, fmt.Errorf("kid %q", kid))
}

// findKey returns the key named kid that can verify alg. A token without a
// kid is accepted only when exactly one key in the set fits alg.
func findKey(set jwk.Set, kid string, alg jwa.SignatureAlgorithm) (jwk.Key, bool) {
	if kid != "" {
		key, ok := set.LookupKeyID(kid)
		if !ok || !keyFor(key, alg) || !keyCanVerify(key, alg) {
			return nil, false
		}
		return key, true
	}
	var found jwk.Key
	for i := range set.Len() {
		key, _ := set.Key(i)
		if keyFor(key, alg) && keyCanVerify(key, alg) {
			if found != nil {
				return nil, false
			}
			found = key
		}
	}
	return found, found != nil
}

func keyCanVerify(key jwk.Key, alg jwa.SignatureAlgorithm) bool {
	algs, err := jws.AlgorithmsForKey(key)
	return err == nil && slices.ContainsFunc(algs, func(a jwa.SignatureAlgorithm) bool { return a.String() == alg.String() })
}
