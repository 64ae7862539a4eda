// Package rowbinary reads and writes ClickHouse's RowBinary format: each
// row's values one after another, in the binary layout of their column
// types, with no delimiters. NativeBlock writes the same values grouped by
// column, as a block of ClickHouse's Native format, for batch inserts. A Type parsed from ClickHouse's type text
// ("Map(LowCardinality(String), String)", "DateTime64(9)") decodes values
// into Go types and appends Go values in that layout, checking that each Go
// value fits the column.
//
// The Go types are the ones store.Rows documents: String → string,
// (U)IntN → (u)intN, FloatN → floatN, Bool → bool, DateTime/DateTime64/
// Date → time.Time (UTC), Array(T) → []T, Map(K, V) → map[K]V,
// Nullable(T) → *T, LowCardinality(T) → T, UUID → string, Enum → string,
// Tuple → []any, IPv4/IPv6 → netip.Addr, (U)Int128/256 → *big.Int,
// Decimal → string.
//
// The package knows nothing about connections or SQL; it only moves bytes.
package rowbinary
