// Package fastapi locates what runs the FastAPI application in app.py (the
// test and demo application behind the proxy tap): a python3 with the
// Debian packages python3-fastapi, python3-uvicorn and python3-wsproto.
package fastapi

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Python returns a python3 that can import fastapi, uvicorn and wsproto.
// $TAPLINE_PYTHON overrides the search; otherwise python3 on the PATH is
// tried, then /usr/bin/python3, because a version manager's python3 on the
// PATH may hide the system interpreter the Debian packages install into.
func Python() (string, error) {
	cands := []string{"python3", "/usr/bin/python3"}
	if p := os.Getenv("TAPLINE_PYTHON"); p != "" {
		cands = []string{p}
	}
	var tried []string
	for _, c := range cands {
		path, err := exec.LookPath(c)
		if err != nil {
			tried = append(tried, c+": not found")
			continue
		}
		if out, err := exec.Command(path, "-c", "import fastapi, uvicorn, wsproto").CombinedOutput(); err != nil {
			tried = append(tried, fmt.Sprintf("%s: %s", path, lastLine(string(out))))
			continue
		}
		return path, nil
	}
	return "", fmt.Errorf("no python3 with fastapi, uvicorn and wsproto (Debian: python3-fastapi python3-uvicorn python3-wsproto): %s",
		strings.Join(tried, "; "))
}

// lastLine is the last line of a Python traceback: the error itself.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
