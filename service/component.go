package service

import (
	"context"
	"sync"
)

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

// Lazy is a component built when it starts: build runs in Start, after the
// components added before it have started, so it can use what they provide
// (the bus's JetStream, the store's engine). Shutdown stops the built
// component, if any.
//
//	svc.Add("ingest", service.Lazy(func(ctx context.Context) (service.Component, error) {
//		return ingest.New(cfg.Ingest, store.Engine(), bus.JetStream(), reg, logger)
//	}))
func Lazy[C Component](build func(ctx context.Context) (C, error)) Component {
	return &lazy[C]{build: build}
}

type lazy[C Component] struct {
	build func(ctx context.Context) (C, error)
	mu    sync.Mutex
	c     Component
}

func (l *lazy[C]) Start(ctx context.Context) error {
	c, err := l.build(ctx)
	if err != nil {
		return err
	}
	if err := c.Start(ctx); err != nil {
		return err
	}
	l.mu.Lock()
	l.c = c
	l.mu.Unlock()
	return nil
}

func (l *lazy[C]) Shutdown(ctx context.Context) error {
	l.mu.Lock()
	c := l.c
	l.c = nil
	l.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.Shutdown(ctx)
}
