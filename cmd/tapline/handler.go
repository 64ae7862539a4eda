package main

import (
	"net/http"
	"sync"
)

// serveWhileRunning serves h, or 503 naming what is not running while h is
// nil: the mounted handler of a component before it starts and after it stops.
func serveWhileRunning(w http.ResponseWriter, r *http.Request, h http.Handler, what string) {
	if h == nil {
		http.Error(w, what+" not running", http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, r)
}

// started holds what a component's Start built, for the component's other
// methods (which may run on other goroutines) and its Shutdown: nil before
// Start and after Shutdown.
type started[T any] struct {
	mu  sync.Mutex
	val *T
}

// set records what Start built.
func (r *started[T]) set(v *T) {
	r.mu.Lock()
	r.val = v
	r.mu.Unlock()
}

// get returns what Start built, or nil.
func (r *started[T]) get() *T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.val
}

// take returns what Start built, or nil, and forgets it: Shutdown's part.
func (r *started[T]) take() *T {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := r.val
	r.val = nil
	return v
}
