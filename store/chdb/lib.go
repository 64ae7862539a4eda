package chdb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"unsafe"

	"github.com/ebitengine/purego"
)

// LibraryVersion is the chDB library release Tapline is built and tested
// against (npm package @chdb/lib-linux-x64-gnu).
const LibraryVersion = "26.5.3"

// LibraryEnv names the environment variable that points at libchdb.so.
const LibraryEnv = "TAPLINE_LIBCHDB"

// ErrLibraryMissing is returned by Open when libchdb.so cannot be found.
var ErrLibraryMissing = errors.New("chdb: libchdb.so not found")

// DefaultLibPath returns where Open looks for libchdb.so when
// Options.LibPath is empty: $TAPLINE_LIBCHDB if set, else
// $XDG_CACHE_HOME/tapline/<LibraryVersion>/package/libchdb.so
// (~/.cache/tapline/... on Linux), which is where `make libchdb` puts it.
func DefaultLibPath() string {
	if p := os.Getenv(LibraryEnv); p != "" {
		return p
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "tapline", LibraryVersion, "package", "libchdb.so")
}

// library holds the C functions of libchdb.so that the engine calls.
//
// Every Open loads the library again: dlopen returns the same handle for a
// library that is already loaded (it only counts references), so this needs
// no process-wide variable. The library is never unloaded: ClickHouse keeps
// background threads running inside it for the life of the process.
type library struct {
	setSignalHandlersEnabled func(enabled int32)
	connect                  func(argc int32, argv []*byte) *uintptr
	closeConn                func(conn *uintptr)

	// queryWithParamsN binds {name:Type} placeholders; values are TSV-escaped text.
	queryWithParamsN func(conn uintptr, query *byte, queryLen uintptr, format *byte, formatLen uintptr,
		names []*byte, nameLens []uintptr, values []*byte, valueLens []uintptr, count uintptr) uintptr
	streamQueryWithParamsN func(conn uintptr, query *byte, queryLen uintptr, format *byte, formatLen uintptr,
		names []*byte, nameLens []uintptr, values []*byte, valueLens []uintptr, count uintptr) uintptr
	streamFetchResult func(conn uintptr, result uintptr) uintptr
	streamCancelQuery func(conn uintptr, result uintptr)

	resultBuffer       func(result uintptr) *byte
	resultLength       func(result uintptr) uintptr
	resultError        func(result uintptr) string
	destroyQueryResult func(result uintptr)
}

// loadLibrary opens libchdb.so at path and binds the functions the engine
// uses. A missing file gives an error that says how to get the library.
func loadLibrary(path string) (*library, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: no path (set %s or run `make libchdb`)", ErrLibraryMissing, LibraryEnv)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w at %s: run `make libchdb` to fetch it, or set %s to its path: %w",
			ErrLibraryMissing, path, LibraryEnv, err)
	}
	handle, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return nil, fmt.Errorf("chdb: load %s: %w", path, err)
	}
	lib := &library{}
	funcs := []struct {
		fn   any
		name string
	}{
		{&lib.setSignalHandlersEnabled, "chdb_set_signal_handlers_enabled"},
		{&lib.connect, "chdb_connect"},
		{&lib.closeConn, "chdb_close_conn"},
		{&lib.queryWithParamsN, "chdb_query_with_params_n"},
		{&lib.streamQueryWithParamsN, "chdb_stream_query_with_params_n"},
		{&lib.streamFetchResult, "chdb_stream_fetch_result"},
		{&lib.streamCancelQuery, "chdb_stream_cancel_query"},
		{&lib.resultBuffer, "chdb_result_buffer"},
		{&lib.resultLength, "chdb_result_length"},
		{&lib.resultError, "chdb_result_error"},
		{&lib.destroyQueryResult, "chdb_destroy_query_result"},
	}
	for _, f := range funcs {
		sym, err := purego.Dlsym(handle, f.name)
		if err != nil {
			return nil, fmt.Errorf("chdb: %s has no %s (Tapline needs chDB %s): %w", path, f.name, LibraryVersion, err)
		}
		purego.RegisterFunc(f.fn, sym)
	}
	return lib, nil
}

// resultBytes copies a result's buffer into Go memory.
func (l *library) resultBytes(res uintptr) []byte {
	n := l.resultLength(res)
	if n == 0 {
		return nil
	}
	p := l.resultBuffer(res)
	if p == nil {
		return nil
	}
	out := make([]byte, n)
	copy(out, unsafe.Slice(p, n))
	return out
}
