package nginxreceiver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/tapline/tapline/collector/accesslogprocessor/accesslogtest"
	"github.com/tapline/tapline/event"
)

// fileSetup is a log file, a storage dir and a receiver tailing the file.
type fileSetup struct {
	path, storage string
}

func newFileSetup(t *testing.T) fileSetup {
	dir := t.TempDir()
	return fileSetup{path: filepath.Join(dir, "access.log"), storage: filepath.Join(dir, "storage")}
}

func (fs fileSetup) config() *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Syslog.UDP = ""
	cfg.Files.Include = []string{fs.path}
	cfg.Files.StartAt = StartAtBeginning
	cfg.Files.PollInterval = 10 * time.Millisecond
	cfg.Files.RotationGrace = 300 * time.Millisecond
	cfg.StorageDir = fs.storage
	cfg.Node = "test-node"
	return cfg
}

// start runs a receiver on the setup; stop it with the returned function
// (also called at the end of the test).
func (fs fileSetup) start(t *testing.T, cfg *Config, next consumer.Logs) (*nginxReceiver, func()) {
	t.Helper()
	set := receivertest.NewNopSettings(Type)
	set.ID = component.NewID(Type) // the same receiver across restarts: its positions are found again
	rcv, err := NewFactory().CreateLogs(context.Background(), set, cfg, next)
	require.NoError(t, err)
	require.NoError(t, rcv.Start(context.Background(), componenttest.NewNopHost()))
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			require.NoError(t, rcv.Shutdown(context.Background()))
		}
	}
	t.Cleanup(stop)
	return rcv.(*nginxReceiver), stop
}

func appendTo(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	_, err = f.WriteString(strings.Join(lines, ""))
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func nl(ids ...string) []string {
	var out []string
	for _, id := range ids {
		out = append(out, goodLine(id)+"\n")
	}
	return out
}

// ids returns the request ids of the records, in order.
func ids(recs []accesslogtest.Record) []string {
	var out []string
	for _, r := range recs {
		id, _ := r.Attributes[event.AttrRequestID].(string)
		out = append(out, id)
	}
	return out
}

func TestTailRotationByRename(t *testing.T) {
	fs := newFileSetup(t)
	appendTo(t, fs.path, nl("1", "2", "3")...)
	r, sink := func() (*nginxReceiver, *consumertest.LogsSink) {
		sink := new(consumertest.LogsSink)
		r, _ := fs.start(t, fs.config(), sink)
		return r, sink
	}()
	waitRecords(t, sink, 3)

	// A line written in two parts is taken once whole.
	half := goodLine("4")
	appendTo(t, fs.path, half[:30])
	time.Sleep(50 * time.Millisecond) // let a few polls see the half line
	appendTo(t, fs.path, half[30:]+"\n")
	waitRecords(t, sink, 4)

	// Rotate by rename; Nginx writes to the old file until it reopens.
	require.NoError(t, os.Rename(fs.path, fs.path+".1"))
	appendTo(t, fs.path+".1", nl("5")...)
	waitRecords(t, sink, 5)
	appendTo(t, fs.path, nl("6", "7")...) // the new file after the reopen
	appendTo(t, fs.path+".1", nl("late")...)
	recs := waitRecords(t, sink, 8)
	got := ids(recs)
	require.ElementsMatch(t, []string{"1", "2", "3", "4", "5", "6", "7", "late"}, got)
	require.Equal(t, []string{"1", "2", "3", "4", "5"}, got[:5])
	require.Equal(t, int64(1), r.stats.fileRotations.Load())
	require.Equal(t, "test-node", recs[0].Attributes[event.AttrNode])
	// After the grace period the old file is let go.
	require.Eventually(t, func() bool { return rotatedCount(t, fs) == 0 }, 5*time.Second, 10*time.Millisecond)
}

// rotatedCount reads the saved state: how many rotated files are still read.
func rotatedCount(t *testing.T, fs fileSetup) int {
	b, err := os.ReadFile(filepath.Join(fs.storage, "nginxreceiver-nginx.json"))
	if err != nil {
		return -1
	}
	return strings.Count(string(b), `"rotated":true`)
}

func TestTailCopyTruncate(t *testing.T) {
	fs := newFileSetup(t)
	appendTo(t, fs.path, nl("1", "2", "3")...)
	sink := new(consumertest.LogsSink)
	r, _ := fs.start(t, fs.config(), sink)
	waitRecords(t, sink, 3)

	require.NoError(t, os.Truncate(fs.path, 0))
	require.Eventually(t, func() bool { return r.stats.fileTruncations.Load() == 1 }, 5*time.Second, 5*time.Millisecond)
	appendTo(t, fs.path, nl("4", "5")...)
	recs := waitRecords(t, sink, 5)
	require.Equal(t, []string{"1", "2", "3", "4", "5"}, ids(recs))
}

// TestTailRestart checks that a restart neither skips nor repeats: lines
// written while the receiver is down come once, then a sentinel line.
func TestTailRestart(t *testing.T) {
	fs := newFileSetup(t)
	appendTo(t, fs.path, nl("1", "2", "3")...)
	sink := new(consumertest.LogsSink)
	_, stop := fs.start(t, fs.config(), sink)
	waitRecords(t, sink, 3)
	stop()

	appendTo(t, fs.path, nl("4", "5")...)
	sink2 := new(consumertest.LogsSink)
	fs.start(t, fs.config(), sink2)
	waitRecords(t, sink2, 2)
	appendTo(t, fs.path, nl("sentinel")...)
	require.Equal(t, []string{"4", "5", "sentinel"}, ids(waitRecords(t, sink2, 3)))
}

func TestTailRestartAcrossRotation(t *testing.T) {
	fs := newFileSetup(t)
	appendTo(t, fs.path, nl("1", "2")...)
	sink := new(consumertest.LogsSink)
	_, stop := fs.start(t, fs.config(), sink)
	waitRecords(t, sink, 2)
	stop()

	// While down: more lines, a rotation, lines in the new file.
	appendTo(t, fs.path, nl("3")...)
	require.NoError(t, os.Rename(fs.path, fs.path+".1"))
	appendTo(t, fs.path, nl("4")...)

	sink2 := new(consumertest.LogsSink)
	fs.start(t, fs.config(), sink2)
	recs := waitRecords(t, sink2, 2)
	require.ElementsMatch(t, []string{"3", "4"}, ids(recs))
	appendTo(t, fs.path, nl("sentinel")...)
	recs = waitRecords(t, sink2, 3)
	require.Equal(t, "sentinel", ids(recs)[2])
}

// TestTailRewrittenWhileDown: the file was truncated and rewritten longer
// while the receiver was down; the fingerprint tells, and it starts over.
func TestTailRewrittenWhileDown(t *testing.T) {
	fs := newFileSetup(t)
	appendTo(t, fs.path, nl("a1", "a2")...)
	sink := new(consumertest.LogsSink)
	_, stop := fs.start(t, fs.config(), sink)
	waitRecords(t, sink, 2)
	stop()

	require.NoError(t, os.Truncate(fs.path, 0))
	appendTo(t, fs.path, nl("b1", "b2", "b3")...)
	sink2 := new(consumertest.LogsSink)
	fs.start(t, fs.config(), sink2)
	require.Equal(t, []string{"b1", "b2", "b3"}, ids(waitRecords(t, sink2, 3)))
}

func TestTailStartAtEnd(t *testing.T) {
	fs := newFileSetup(t)
	appendTo(t, fs.path, nl("old1", "old2")...)
	cfg := fs.config()
	cfg.Files.StartAt = StartAtEnd
	sink := new(consumertest.LogsSink)
	r, _ := fs.start(t, cfg, sink)
	require.Eventually(t, func() bool { return len(r.tail.savedOffsetsForTest()) == 1 }, 5*time.Second, 5*time.Millisecond)
	appendTo(t, fs.path, nl("new")...)
	require.Equal(t, []string{"new"}, ids(waitRecords(t, sink, 1)))
}

func TestTailBrokenInput(t *testing.T) {
	fs := newFileSetup(t)
	var lines []string
	for i, b := range brokenLines {
		lines = append(lines, b.line+"\n", goodLine(fmt.Sprint("good-", i))+"\n")
	}
	lines = append(lines, strings.Repeat("x", 1<<20)+"\n", goodLine("after-huge")+"\n", "\n", "\r\n")
	appendTo(t, fs.path, lines...)
	sink := new(consumertest.LogsSink)
	r, _ := fs.start(t, fs.config(), sink)
	recs := waitRecords(t, sink, 2*len(brokenLines)+2)
	for i := range brokenLines {
		require.Equal(t, fmt.Sprint("good-", i), recs[2*i+1].Attributes[event.AttrRequestID])
	}
	huge := recs[2*len(brokenLines)]
	require.Equal(t, "not an nginx access log line; "+errOversize, huge.Attributes[event.AttrParseError])
	require.Equal(t, DefaultMaxLineBytes, len(huge.Body.(string)))
	require.Equal(t, "after-huge", recs[2*len(brokenLines)+1].Attributes[event.AttrRequestID])
	require.Equal(t, int64(1), r.stats.oversize.Load())
	require.Equal(t, int64(2), r.stats.unparsed.Load())
}

// TestTailOversizeAcrossReads: a huge line still being written is cut once,
// and its rest skipped, even across polls and a restart.
func TestTailOversizeAcrossReads(t *testing.T) {
	fs := newFileSetup(t)
	cfg := fs.config()
	sink := new(consumertest.LogsSink)
	r, stop := fs.start(t, cfg, sink)
	appendTo(t, fs.path, strings.Repeat("y", 100_000))
	require.Eventually(t, func() bool { return r.stats.oversize.Load() == 1 }, 5*time.Second, 5*time.Millisecond)
	stop()
	appendTo(t, fs.path, strings.Repeat("y", 100_000)+"\n")
	appendTo(t, fs.path, nl("next")...)
	sink2 := new(consumertest.LogsSink)
	fs.start(t, cfg, sink2)
	require.Equal(t, []string{"next"}, ids(waitRecords(t, sink2, 1)))
	require.Equal(t, 1, sink.LogRecordCount())
}

// TestTailPipelineRefuses: while the pipeline refuses (a memory limiter
// would), lines stay in the file and come later, once each. The refusing
// consumer is a fake: a real refusal cannot be caused on demand.
func TestTailPipelineRefuses(t *testing.T) {
	fs := newFileSetup(t)
	var refuse atomic.Bool
	refuse.Store(true)
	sink := new(consumertest.LogsSink)
	var refused atomic.Int64
	next, err := consumer.NewLogs(func(ctx context.Context, ld plog.Logs) error {
		if refuse.Load() {
			refused.Add(1)
			return errors.New("data refused due to high memory usage")
		}
		return sink.ConsumeLogs(ctx, ld)
	})
	require.NoError(t, err)
	fs.start(t, fs.config(), next)
	appendTo(t, fs.path, nl("1", "2")...)
	require.Eventually(t, func() bool { return refused.Load() >= 3 }, 5*time.Second, 5*time.Millisecond)
	refuse.Store(false)
	appendTo(t, fs.path, nl("3")...)
	require.Equal(t, []string{"1", "2", "3"}, ids(waitRecords(t, sink, 3)))
}
