package service

import "context"

// Component is a part of a tapline process with a lifetime: the bus, the
// storage engine, the collector, ingest, the query API.
//
// Start returns once the component works, running servers and loops in
// goroutines it tracks; if it fails it undoes what it did before returning.
// Shutdown stops those goroutines, flushes buffers and releases resources,
// honouring ctx's deadline; it is safe to call before Start and twice.
type Component interface {
	Start(ctx context.Context) error
	Shutdown(ctx context.Context) error
}

// Funcs makes a Component from two functions; either may be nil.
type Funcs struct {
	StartFunc    func(ctx context.Context) error
	ShutdownFunc func(ctx context.Context) error
}

// Start calls StartFunc.
func (f Funcs) Start(ctx context.Context) error {
	if f.StartFunc == nil {
		return nil
	}
	return f.StartFunc(ctx)
}

// Shutdown calls ShutdownFunc.
func (f Funcs) Shutdown(ctx context.Context) error {
	if f.ShutdownFunc == nil {
		return nil
	}
	return f.ShutdownFunc(ctx)
}

var _ Component = Funcs{}
