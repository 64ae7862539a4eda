package proxy

import (
	"context"
	"errors"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

type upstream struct {
	name      string
	target    *url.URL
	address   string
	transport interface {
		http.RoundTripper
		CloseIdleConnections()
	}
	h1 *h1Client // the transport when the upstream speaks HTTP/1.1 (nil for h2c)
	rp *httputil.ReverseProxy
}

func newUpstream(p *Proxy, c UpstreamConfig, errLog *log.Logger) (*upstream, error) {
	target, err := url.Parse(c.URL)
	if err != nil {
		return nil, err
	}
	u := &upstream{name: c.Name, target: target, address: target.Host}
	if c.H2C {
		t := &http.Transport{
			DialContext:           (&net.Dialer{Timeout: c.DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          c.MaxIdleConns,
			MaxIdleConnsPerHost:   c.MaxIdleConns,
			IdleConnTimeout:       c.IdleConnTimeout,
			ResponseHeaderTimeout: c.ResponseHeaderTimeout,
			// A proxy forwards bodies as they are.
			DisableCompression: true,
			Protocols:          new(http.Protocols),
		}
		t.Protocols.SetUnencryptedHTTP2(true)
		u.transport = t
	} else {
		u.h1 = newH1Client(target.Host, c)
		u.transport = u.h1
	}
	u.rp = &httputil.ReverseProxy{
		Rewrite:        func(pr *httputil.ProxyRequest) { p.rewrite(u, pr) },
		Transport:      u.transport,
		BufferPool:     bufferPool{},
		ErrorLog:       errLog,
		ErrorHandler:   p.upstreamError,
		ModifyResponse: modifyResponse,
	}
	return u, nil
}

// modifyResponse notes the upstream's status for the record.
func modifyResponse(resp *http.Response) error {
	if fw, ok := resp.Request.Context().Value(forwardKey{}).(*forward); ok {
		fw.upstreamStatus = resp.StatusCode
	}
	return nil
}

// upstreamError answers when the upstream could not: 502, 504 on a timeout,
// 413 when the client's body passed the limit while being forwarded.
func (p *Proxy) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	fw, _ := r.Context().Value(forwardKey{}).(*forward)
	p.upstreamFailed(w, r, fw, err)
}

// upstreamFailed answers for a request whose upstream exchange failed, and
// notes why on its record (fw may be nil).
func (p *Proxy) upstreamFailed(w http.ResponseWriter, r *http.Request, fw *forward, err error) {
	status, reason := http.StatusBadGateway, ReasonUpstreamUnavailable
	var mbe *http.MaxBytesError
	var ne net.Error
	if fw != nil && fw.streamed != nil && fw.streamed.err != nil {
		// net/http hides body read errors from errors.As; the body saw it.
		err = errors.Join(err, fw.streamed.err)
	}
	switch {
	case errors.As(err, &mbe):
		status, reason = http.StatusRequestEntityTooLarge, ReasonRequestTooLarge
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		status, reason = statusClientClosed, ReasonClientClosed
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		status, reason = http.StatusGatewayTimeout, ReasonUpstreamTimeout
	}
	if fw != nil {
		fw.rec.Error = reason
	}
	p.logger.Debug("proxy: upstream error", "err", err, "reason", reason)
	if status == statusClientClosed {
		// Nobody is listening; record 499 as nginx does.
		if rw, ok := w.(*recorder); ok {
			rw.status = statusClientClosed
		}
		return
	}
	id := ""
	if fw != nil {
		id = fw.rec.RequestID
	}
	writeProblem(w, status, problem{Error: strings.ToLower(http.StatusText(status)), Reason: reason, RequestID: id})
}

// bufferPool recycles the copy buffers of the reverse proxy.
type bufferPool struct{}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *(copyBuffers.Get().(*[]byte)) }
func (bufferPool) Put(b []byte) { copyBuffers.Put(&b) }

// slogWriter turns the standard library's log lines into debug records.
func errorLog(logger *slog.Logger) *log.Logger {
	return slog.NewLogLogger(logger.Handler(), slog.LevelDebug)
}
