package demo

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// proc is one child process of the stack.
type proc struct {
	name    string
	cmd     *exec.Cmd
	stop    os.Signal     // the signal that stops it gracefully
	grace   time.Duration // how long a graceful stop may take
	logPath string

	exited  chan struct{}
	mu      sync.Mutex
	err     error
	stopped bool // Stop was called: the exit is expected
}

// startProc starts cmd, its output (unless already redirected) appended to
// logs/NAME.log under dir. Stop sends it stop and kills it after grace.
func startProc(dir, name string, cmd *exec.Cmd, stop os.Signal, grace time.Duration) (*proc, error) {
	logPath := filepath.Join(dir, "logs", name+".log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o750); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if cmd.Stdout == nil {
		cmd.Stdout = logFile
	}
	if cmd.Stderr == nil {
		cmd.Stderr = logFile
	}
	detach(cmd)
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, stop: stop, grace: grace, logPath: logPath, exited: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		_ = logFile.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.exited)
	}()
	return p, nil
}

// Exited is closed when the process has exited.
func (p *proc) Exited() <-chan struct{} { return p.exited }

// exitError says how the process ended, for a message.
func (p *proc) exitError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		return fmt.Errorf("%s exited (log: %s)", p.name, p.logPath)
	}
	return fmt.Errorf("%s exited: %w (log: %s)", p.name, p.err, p.logPath)
}

// Stop signals the process and waits for it, within its grace period and
// ctx, then kills it.
func (p *proc) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.grace)
	defer cancel()
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	select {
	case <-p.exited:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(p.stop)
	select {
	case <-p.exited:
		return nil
	case <-ctx.Done():
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
	}
	return fmt.Errorf("%s did not stop in time: killed", p.name)
}

// unexpected reports whether the process exited without being stopped.
func (p *proc) unexpected() bool {
	select {
	case <-p.exited:
	default:
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.stopped
}

// tail returns the last n bytes of the process's log, for error messages.
func (p *proc) tail(n int64) string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(st.Size()-n, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// signals of the processes: Nginx finishes requests and flushes its logs on
// SIGQUIT; tapline and uvicorn stop gracefully on SIGTERM.
var (
	sigQuit os.Signal = syscall.SIGQUIT
	sigTerm os.Signal = syscall.SIGTERM
)
