package chdb

import (
	"fmt"
	"runtime"
)

// conn is one chDB connection. ClickHouse runs the statements of one
// connection one after another; concurrency comes from the pool. A conn is
// used by one goroutine at a time.
type conn struct {
	lib    *library
	handle *uintptr // chdb_connection*, as chdb_connect returned it
}

// connect opens a connection to the data directory path.
func connect(lib *library, path string) (*conn, error) {
	args := newCStrings("clickhouse", "--path="+path)
	h := lib.connect(int32(len(args.ptrs)), args.ptrs)
	runtime.KeepAlive(args)
	if h == nil || *h == 0 {
		return nil, fmt.Errorf("chdb: cannot open data directory %s: chDB serves one data directory per process"+
			" (is another engine open on a different path?) and needs it writable", path)
	}
	return &conn{lib: lib, handle: h}, nil
}

// raw is the chdb_connection value the query functions take.
func (c *conn) raw() uintptr { return *c.handle }

func (c *conn) close() {
	if c.handle != nil {
		c.lib.closeConn(c.handle)
		c.handle = nil
	}
}

// statement is a query with its parameters laid out as the C API takes
// them: pointers to NUL-terminated copies (the API also takes lengths, the
// NUL is only a safeguard). The struct keeps the Go memory referenced until
// the call that uses it has returned.
type statement struct {
	query, format cstring
	names, values cstrings
}

func newStatement(query, format string, names, values []string) *statement {
	return &statement{
		query:  newCString(query),
		format: newCString(format),
		names:  newCStrings(names...),
		values: newCStrings(values...),
	}
}

type cstring struct {
	ptr *byte
	len uintptr
}

func newCString(s string) cstring {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return cstring{ptr: &b[0], len: uintptr(len(s))}
}

type cstrings struct {
	ptrs []*byte
	lens []uintptr
}

func newCStrings(ss ...string) cstrings {
	out := cstrings{ptrs: make([]*byte, len(ss)), lens: make([]uintptr, len(ss))}
	for i, s := range ss {
		c := newCString(s)
		out.ptrs[i], out.lens[i] = c.ptr, c.len
	}
	return out
}

// result is a chdb_result* owned by Go code until destroyed.
type result struct {
	lib *library
	ptr uintptr
}

// err returns the result's error, nil when it has none.
func (r result) err() error {
	if r.ptr == 0 {
		return fmt.Errorf("chdb: no result")
	}
	if msg := r.lib.resultError(r.ptr); msg != "" {
		return parseError(msg)
	}
	return nil
}

func (r result) data() []byte { return r.lib.resultBytes(r.ptr) }

func (r result) destroy() {
	if r.ptr != 0 {
		r.lib.destroyQueryResult(r.ptr)
	}
}

// query runs one statement and returns its whole output in st's format.
func (c *conn) query(st *statement) ([]byte, error) {
	res := result{lib: c.lib, ptr: c.lib.queryWithParamsN(c.raw(),
		st.query.ptr, st.query.len, st.format.ptr, st.format.len,
		st.names.ptrs, st.names.lens, st.values.ptrs, st.values.lens, uintptr(len(st.names.ptrs)))}
	runtime.KeepAlive(st)
	defer res.destroy()
	if err := res.err(); err != nil {
		return nil, err
	}
	return res.data(), nil
}

// stream is a streaming query on a conn. Until it has been read to the end
// (next returned no data or an error) or cancelled, the conn must run
// nothing else: destroying an unfinished stream leaves the connection
// unusable.
type stream struct {
	c        *conn
	handle   result
	finished bool
}

// startStream starts st as a streaming query.
func (c *conn) startStream(st *statement) (*stream, error) {
	res := result{lib: c.lib, ptr: c.lib.streamQueryWithParamsN(c.raw(),
		st.query.ptr, st.query.len, st.format.ptr, st.format.len,
		st.names.ptrs, st.names.lens, st.values.ptrs, st.values.lens, uintptr(len(st.names.ptrs)))}
	runtime.KeepAlive(st)
	if err := res.err(); err != nil {
		// Nothing started: the stream is over before it began.
		res.destroy()
		return nil, err
	}
	return &stream{c: c, handle: res}, nil
}

// errNoActiveStream is what chDB answers a fetch after a stream ended.
const errNoActiveStream = "chdb: No active streaming query"

// next returns the next chunk of output, or nil at the end.
func (s *stream) next() ([]byte, error) {
	if s.finished {
		return nil, nil
	}
	res := result{lib: s.c.lib, ptr: s.c.lib.streamFetchResult(s.c.raw(), s.handle.ptr)}
	defer res.destroy()
	if err := res.err(); err != nil {
		s.finished = true
		if err.Error() == errNoActiveStream {
			// A result without rows ends after its header chunk: the next
			// fetch finds the stream already over.
			return nil, nil
		}
		return nil, err
	}
	data := res.data()
	if len(data) == 0 {
		s.finished = true
		return nil, nil
	}
	return data, nil
}

// close cancels the stream unless it has finished, and frees it.
func (s *stream) close() {
	if !s.finished {
		s.c.lib.streamCancelQuery(s.c.raw(), s.handle.ptr)
		s.finished = true
	}
	s.handle.destroy()
}
