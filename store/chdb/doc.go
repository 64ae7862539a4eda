// Package chdb is the embedded ClickHouse engine: ClickHouse 26.5 running in
// this process as chDB's libchdb.so, loaded at run time with purego (no cgo,
// so the binary builds without the library and reports a clear error when it
// is missing). It implements store.Engine.
//
// One process serves one data directory. Open keeps a small pool of
// connections to it, each with the engine's database as its current
// database; queries stream their results in RowBinaryWithNamesAndTypes and
// decode them into Go types; batch inserts go through a file holding one Native
// block (see batch.go for why).
//
// The package must not know what the tables hold: it moves rows and
// parameters, and builds SQL only from names it has checked.
package chdb
