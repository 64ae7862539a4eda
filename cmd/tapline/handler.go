package main

import "net/http"

// serveWhileRunning serves h, or 503 naming what is not running while h is
// nil: the mounted handler of a component before it starts and after it stops.
func serveWhileRunning(w http.ResponseWriter, r *http.Request, h http.Handler, what string) {
	if h == nil {
		http.Error(w, what+" not running", http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, r)
}
