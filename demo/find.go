package demo

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Python returns a python3 that can import fastapi, uvicorn and wsproto
// (Debian: python3-fastapi, python3-uvicorn, python3-wsproto);
// $TAPLINE_PYTHON overrides the search. A version manager's python3 on the
// PATH may lack the Debian packages, so /usr/bin/python3 is tried too.
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
			tried = append(tried, fmt.Sprintf("%s: %s", path, strings.TrimSpace(lastLine(string(out)))))
			continue
		}
		return path, nil
	}
	return "", fmt.Errorf("no python3 with fastapi, uvicorn and wsproto (Debian: python3-fastapi python3-uvicorn python3-wsproto): %s",
		strings.Join(tried, "; "))
}

// Nginx returns the nginx binary (Debian's /usr/sbin/nginx, or nginx on
// the PATH).
func Nginx() (string, error) {
	for _, c := range []string{"/usr/sbin/nginx", "nginx"} {
		if path, err := exec.LookPath(c); err == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("nginx not found (Debian: nginx)")
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
