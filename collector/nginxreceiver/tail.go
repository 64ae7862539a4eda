package nginxreceiver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.uber.org/zap"

	"github.com/tapline/tapline/collector/accesslogprocessor/accesslog"
)

const (
	fingerprintSize = 256  // bytes at the start of a file that identify it
	tailBatchLines  = 1000 // lines per batch handed to the pipeline
	readChunk       = 64 * 1024
	stateVersion    = 1
)

// fileState is what is saved of one file between runs.
type fileState struct {
	Path    string `json:"path"`    // the configured path the file is (or was) at
	Rotated bool   `json:"rotated"` // renamed away; read until it goes quiet
	Dev     uint64 `json:"dev"`
	Ino     uint64 `json:"ino"`
	// Offset is where the next unread line starts: everything before it
	// has been handed to the pipeline.
	Offset int64 `json:"offset"`
	// Fingerprint is the first bytes of the file: it tells a file that was
	// truncated and rewritten, or a reused inode, from the one read before.
	Fingerprint []byte `json:"fingerprint,omitempty"`
	// Skipping is set inside an over-long line whose head was emitted: the
	// rest is dropped up to its newline.
	Skipping bool `json:"skipping,omitempty"`
}

type savedState struct {
	Version int         `json:"version"`
	Files   []fileState `json:"files"`
}

// tracked is an open file being read.
type tracked struct {
	fileState
	f        *os.File
	pending  []byte // bytes from Offset on, read but not yet a whole line
	lastData time.Time
}

// tailer follows the configured files. Only its run goroutine touches it
// until run returns; close is called after that.
type tailer struct {
	r         *nginxReceiver
	statePath string
	live      map[string]*tracked // by configured path
	rotated   []*tracked
	seen      map[string]bool // paths whose next new file starts at 0
	parser    accesslog.NginxParser
	chunk     []byte
	now       func() time.Time
}

// statePath is the file holding a receiver's read positions.
func statePath(dir string, id component.ID) string {
	name := strings.NewReplacer("/", "_", string(os.PathSeparator), "_").Replace(id.String())
	return filepath.Join(dir, "nginxreceiver-"+name+".json")
}

func newTailer(r *nginxReceiver, statePath string) (*tailer, error) {
	if err := os.MkdirAll(filepath.Dir(statePath), 0o750); err != nil {
		return nil, fmt.Errorf("storage_dir: %w", err)
	}
	t := &tailer{
		r: r, statePath: statePath,
		live: map[string]*tracked{}, seen: map[string]bool{},
		chunk: make([]byte, readChunk), now: time.Now,
	}
	if err := t.restore(); err != nil {
		t.closeFiles()
		return nil, err
	}
	return t, nil
}

// restore reopens the files of the saved state at their saved offsets,
// finding files rotated while the collector was down by their inode.
func (t *tailer) restore() error {
	b, err := os.ReadFile(t.statePath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("storage_dir: read positions: %w", err)
	}
	var st savedState
	if err := json.Unmarshal(b, &st); err != nil || st.Version != stateVersion {
		t.r.set.Logger.Warn("ignoring unreadable read-position file", zap.String("path", t.statePath), zap.Error(err))
		return nil
	}
	include := map[string]bool{}
	for _, p := range t.r.cfg.Files.Include {
		include[p] = true
	}
	for _, fs := range st.Files {
		if !include[fs.Path] {
			continue
		}
		t.seen[fs.Path] = true
		if !fs.Rotated {
			if f, fi, err := openFile(fs.Path); err == nil {
				dev, ino := fileID(fi)
				if dev == fs.Dev && ino == fs.Ino && fi.Size() >= fs.Offset && hasPrefix(f, fs.Fingerprint) {
					t.live[fs.Path] = &tracked{fileState: fs, f: f, lastData: t.now()}
					continue
				}
				_ = f.Close()
			}
		}
		// The file moved away: look for it next to the path.
		if f, name := findByID(fs.Path, fs.Dev, fs.Ino); f != nil {
			if hasPrefix(f, fs.Fingerprint) {
				fs.Rotated = true
				t.rotated = append(t.rotated, &tracked{fileState: fs, f: f, lastData: t.now()})
				t.r.set.Logger.Info("resuming rotated file", zap.String("path", name), zap.Int64("offset", fs.Offset))
				continue
			}
			_ = f.Close()
		}
		if fs.Offset > 0 {
			t.r.set.Logger.Warn("rotated file not found: lines after the saved offset are lost",
				zap.String("path", fs.Path), zap.Int64("offset", fs.Offset))
		}
	}
	return nil
}

func openFile(path string) (*os.File, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// findByID opens the file in path's directory with the given device and
// inode (a rotated "access.log.1"), or returns nil.
func findByID(path string, dev, ino uint64) (*os.File, string) {
	if ino == 0 {
		return nil, ""
	}
	dir := filepath.Dir(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, ""
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		name := filepath.Join(dir, e.Name())
		fi, err := os.Stat(name)
		if err != nil {
			continue
		}
		if d, i := fileID(fi); d == dev && i == ino {
			if f, _, err := openFile(name); err == nil {
				return f, name
			}
		}
	}
	return nil, ""
}

// hasPrefix reports whether f starts with fp.
func hasPrefix(f *os.File, fp []byte) bool {
	if len(fp) == 0 {
		return true
	}
	buf := make([]byte, len(fp))
	n, _ := f.ReadAt(buf, 0)
	return bytes.Equal(buf[:n], fp)
}

func (t *tailer) run(ctx context.Context) {
	tick := time.NewTicker(t.r.cfg.Files.PollInterval)
	defer tick.Stop()
	for {
		t.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// poll looks at every path once: notices rotation and truncation, opens new
// files and reads what was appended.
func (t *tailer) poll(ctx context.Context) {
	for _, p := range t.r.cfg.Files.Include {
		if ctx.Err() != nil {
			return
		}
		t.check(p)
		if tf := t.live[p]; tf != nil {
			if err := t.read(ctx, tf, false); err != nil {
				t.r.set.Logger.Debug("tail: lines not taken, retrying", zap.String("path", p), zap.Error(err))
			}
		}
	}
	kept := t.rotated[:0]
	released := false
	for _, tf := range t.rotated {
		if err := t.read(ctx, tf, false); err != nil {
			kept = append(kept, tf)
			continue
		}
		if t.now().Sub(tf.lastData) < t.r.cfg.Files.RotationGrace {
			kept = append(kept, tf)
			continue
		}
		// Quiet for the grace period: take a last line without newline, then let go.
		if err := t.read(ctx, tf, true); err != nil {
			kept = append(kept, tf)
			continue
		}
		_ = tf.f.Close()
		released = true
	}
	t.rotated = kept
	if released {
		t.save()
	}
}

// check updates the file tracked for path p.
func (t *tailer) check(p string) {
	fi, statErr := os.Stat(p)
	if tf := t.live[p]; tf != nil {
		open, err := tf.f.Stat()
		switch {
		case statErr == nil && err == nil && !os.SameFile(fi, open):
			// Renamed away and a new file is at the path: finish the old one.
			tf.Rotated = true
			tf.lastData = t.now()
			t.rotated = append(t.rotated, tf)
			delete(t.live, p)
			t.r.stats.fileRotations.Add(1)
		case err == nil && (open.Size() < tf.Offset || !hasPrefix(tf.f, tf.Fingerprint)):
			// Truncated in place (copytruncate): start again from the top.
			tf.Offset, tf.pending, tf.Fingerprint, tf.Skipping = 0, nil, nil, false
			t.r.stats.fileTruncations.Add(1)
			t.save()
			return
		default:
			return // same file, or the path is gone until Nginx reopens
		}
	}
	if statErr != nil {
		return
	}
	f, ofi, err := openFile(p)
	if err != nil {
		return
	}
	dev, ino := fileID(ofi)
	tf := &tracked{fileState: fileState{Path: p, Dev: dev, Ino: ino}, f: f, lastData: t.now()}
	if !t.seen[p] && t.r.cfg.Files.StartAt == StartAtEnd {
		tf.Offset = ofi.Size()
		tf.Fingerprint = readFingerprint(f)
	}
	t.seen[p] = true
	t.live[p] = tf
	t.save()
}

func readFingerprint(f *os.File) []byte {
	buf := make([]byte, fingerprintSize)
	n, _ := f.ReadAt(buf, 0)
	return buf[:n]
}

// read hands every whole line appended to tf to the pipeline, in batches,
// and advances the saved offset after each batch the pipeline took. With
// final set, a last line without newline is taken too.
func (t *tailer) read(ctx context.Context, tf *tracked, final bool) error {
	for {
		n, rerr := tf.f.ReadAt(t.chunk, tf.Offset+int64(len(tf.pending)))
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return fmt.Errorf("tail %s: %w", tf.Path, rerr)
		}
		if n > 0 {
			tf.pending = append(tf.pending, t.chunk[:n]...)
			tf.lastData = t.now()
		}
		atEOF := n < len(t.chunk) // ReadAt fills the buffer unless the file ends
		if len(tf.Fingerprint) < fingerprintSize {
			tf.Fingerprint = readFingerprint(tf.f)
		}
		for {
			lines, consumed, skipping := t.split(tf, final && atEOF)
			if consumed == 0 {
				break
			}
			if err := t.r.consume(ctx, transportFile, &t.parser, lines, false); err != nil {
				tf.pending = nil // read again from Offset next time
				return err
			}
			tf.Offset += int64(consumed)
			tf.pending = tf.pending[consumed:]
			tf.Skipping = skipping
			t.save()
		}
		if len(tf.pending) == 0 {
			tf.pending = nil
		}
		if atEOF {
			return nil
		}
	}
}

// split takes up to tailBatchLines whole lines from tf.pending and returns
// them with the number of bytes they span and the skipping state after
// them. An unterminated tail longer than max_line_bytes is returned cut,
// and the rest of that line skipped. With eof set, an unterminated tail is
// a last line.
func (t *tailer) split(tf *tracked, eof bool) (lines []line, consumed int, skipping bool) {
	skipping = tf.Skipping
	buf := tf.pending
	max := t.r.cfg.MaxLineBytes
	for len(lines) < tailBatchLines && consumed < len(buf) {
		rest := buf[consumed:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			switch {
			case skipping:
				consumed += len(rest)
			case len(rest) > max:
				lines = append(lines, line{data: rest[:max], oversize: true})
				consumed += len(rest)
				skipping = true
			case eof:
				lines = append(lines, line{data: bytes.TrimRight(rest, "\r")})
				consumed += len(rest)
			}
			return lines, consumed, skipping
		}
		l := bytes.TrimRight(rest[:i], "\r")
		consumed += i + 1
		if skipping {
			skipping = false
			continue
		}
		if len(l) > max {
			lines = append(lines, line{data: l[:max], oversize: true})
			continue
		}
		if len(l) > 0 {
			lines = append(lines, line{data: l})
		}
	}
	return lines, consumed, skipping
}

// save writes the read positions, atomically (write then rename).
func (t *tailer) save() {
	st := savedState{Version: stateVersion}
	for _, p := range t.r.cfg.Files.Include {
		if tf := t.live[p]; tf != nil {
			st.Files = append(st.Files, tf.fileState)
		}
	}
	for _, tf := range t.rotated {
		st.Files = append(st.Files, tf.fileState)
	}
	b, err := json.Marshal(st)
	if err == nil {
		tmp := t.statePath + ".tmp"
		if err = os.WriteFile(tmp, b, 0o640); err == nil {
			err = os.Rename(tmp, t.statePath)
		}
	}
	if err != nil {
		t.r.set.Logger.Error("cannot save read positions", zap.String("path", t.statePath), zap.Error(err))
	}
}

// close saves the positions and closes the files; run must have returned.
func (t *tailer) close() error {
	t.save()
	t.closeFiles()
	return nil
}

func (t *tailer) closeFiles() {
	for _, tf := range t.live {
		_ = tf.f.Close()
	}
	for _, tf := range t.rotated {
		_ = tf.f.Close()
	}
	t.live, t.rotated = map[string]*tracked{}, nil
}
