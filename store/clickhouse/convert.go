package clickhouse

import (
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"reflect"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
)

// fromDriver converts a value clickhouse-go decoded for a column of type t
// into the Go type store.Rows documents (t.goType()).
func fromDriver(t *chType, v any) (any, error) {
	switch t.name {
	case "Nullable":
		return nullableFromDriver(t, v)
	case "Array":
		return arrayFromDriver(t, v)
	case "Map":
		return mapFromDriver(t, v)
	case "Tuple":
		return tupleFromDriver(t, v)
	case "Date", "Date32":
		tm, ok := v.(time.Time)
		if !ok {
			return nil, mismatch(t, v)
		}
		// clickhouse-go gives the date at midnight in the server's zone:
		// keep the calendar day.
		y, m, d := tm.Date()
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
	case "DateTime", "DateTime64":
		tm, ok := v.(time.Time)
		if !ok {
			return nil, mismatch(t, v)
		}
		return tm.UTC(), nil
	case "UUID":
		switch u := v.(type) {
		case uuid.UUID:
			return u.String(), nil
		case string:
			return u, nil
		}
		return nil, mismatch(t, v)
	case "Decimal":
		switch d := v.(type) {
		case decimal.Decimal:
			return d.StringFixed(int32(t.scale)), nil
		case *decimal.Decimal:
			return d.StringFixed(int32(t.scale)), nil
		}
		return nil, mismatch(t, v)
	case "IPv4", "IPv6":
		return addrFromDriver(t, v)
	case "Int128", "Int256", "UInt128", "UInt256":
		switch b := v.(type) {
		case *big.Int:
			return b, nil
		case big.Int:
			return &b, nil
		}
		return nil, mismatch(t, v)
	case "Nothing":
		return nil, nil
	}
	want := t.goType()
	if want == nil {
		return v, nil // passed through unchanged
	}
	if v == nil || reflect.TypeOf(v) != want {
		return nil, mismatch(t, v)
	}
	return v, nil
}

func mismatch(t *chType, v any) error {
	return fmt.Errorf("column type %s: unexpected driver value of type %T", t.text, v)
}

func nullableFromDriver(t *chType, v any) (any, error) {
	want := t.goType()
	rv := reflect.ValueOf(v)
	if v == nil || (rv.Kind() == reflect.Pointer && rv.IsNil()) {
		if want == nil {
			return nil, nil
		}
		return reflect.Zero(want).Interface(), nil
	}
	if rv.Kind() == reflect.Pointer {
		v = rv.Elem().Interface()
	}
	inner, err := fromDriver(t.elems[0], v)
	if err != nil || want == nil {
		return inner, err
	}
	p := reflect.New(want.Elem())
	if inner != nil {
		p.Elem().Set(reflect.ValueOf(inner))
	}
	return p.Interface(), nil
}

func arrayFromDriver(t *chType, v any) (any, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice {
		return nil, mismatch(t, v)
	}
	want := t.goType()
	if want == nil {
		return v, nil
	}
	if rv.Type() == want && !needsConversion(t.elems[0]) {
		return v, nil
	}
	out := reflect.MakeSlice(want, rv.Len(), rv.Len())
	for i := range rv.Len() {
		e, err := fromDriver(t.elems[0], rv.Index(i).Interface())
		if err != nil {
			return nil, err
		}
		setValue(out.Index(i), e)
	}
	return out.Interface(), nil
}

func mapFromDriver(t *chType, v any) (any, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Map {
		return nil, mismatch(t, v)
	}
	want := t.goType()
	if want == nil {
		return v, nil
	}
	if rv.Type() == want && !needsConversion(t.elems[0]) && !needsConversion(t.elems[1]) {
		return v, nil
	}
	out := reflect.MakeMapWithSize(want, rv.Len())
	it := rv.MapRange()
	for it.Next() {
		k, err := fromDriver(t.elems[0], it.Key().Interface())
		if err != nil {
			return nil, err
		}
		val, err := fromDriver(t.elems[1], it.Value().Interface())
		if err != nil {
			return nil, err
		}
		kv, vv := reflect.New(want.Key()).Elem(), reflect.New(want.Elem()).Elem()
		setValue(kv, k)
		setValue(vv, val)
		out.SetMapIndex(kv, vv)
	}
	return out.Interface(), nil
}

func tupleFromDriver(t *chType, v any) (any, error) {
	var fields []any
	switch tv := v.(type) {
	case []any:
		fields = tv
	case map[string]any: // a named tuple
		for _, name := range t.names {
			fields = append(fields, tv[name])
		}
	default:
		return nil, mismatch(t, v)
	}
	if len(fields) != len(t.elems) {
		return nil, fmt.Errorf("column type %s: tuple of %d fields, want %d", t.text, len(fields), len(t.elems))
	}
	out := make([]any, len(fields))
	for i, f := range fields {
		e, err := fromDriver(t.elems[i], f)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

func addrFromDriver(t *chType, v any) (any, error) {
	var ip net.IP
	switch a := v.(type) {
	case net.IP:
		ip = a
	case *net.IP:
		ip = *a
	case netip.Addr:
		return a, nil
	default:
		return nil, mismatch(t, v)
	}
	if t.name == "IPv4" {
		v4 := ip.To4()
		if v4 == nil {
			return nil, fmt.Errorf("column type %s: %v is not an IPv4 address", t.text, ip)
		}
		return netip.AddrFrom4([4]byte(v4)), nil
	}
	v6 := ip.To16()
	if v6 == nil {
		return nil, fmt.Errorf("column type %s: %v is not an IPv6 address", t.text, ip)
	}
	return netip.AddrFrom16([16]byte(v6)), nil
}

// needsConversion reports whether values of t differ between clickhouse-go
// and store.Rows (so a slice or map of them must be copied).
func needsConversion(t *chType) bool {
	switch t.name {
	case "Nullable", "Array", "Map", "Tuple", "Date", "Date32", "DateTime", "DateTime64",
		"UUID", "Decimal", "IPv4", "IPv6", "Int128", "Int256", "UInt128", "UInt256", "Nothing":
		return true
	}
	return false
}

// setValue stores v (possibly nil) into dst.
func setValue(dst reflect.Value, v any) {
	if v == nil {
		dst.Set(reflect.Zero(dst.Type()))
		return
	}
	dst.Set(reflect.ValueOf(v))
}
