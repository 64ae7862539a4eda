package demo

import (
	"fmt"
	"os/exec"

	"github.com/tapline/tapline/testapps/fastapi"
)

// Python returns a python3 that can run the FastAPI application
// (fastapi.Python).
func Python() (string, error) { return fastapi.Python() }

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
