package rowbinary

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"net/netip"
	"reflect"
	"strings"
	"time"
)

// Append appends v in t's RowBinary layout. It accepts the Go type Decode
// returns for t and lossless alternatives: any integer type whose value
// fits, []byte for String, a name or code for Enum, nil or a nil pointer
// for Nullable, any slice for Array and any map for Map. On error the
// returned slice may end in a partly written value: a caller that keeps it
// truncates it back to where the row started.
func (t *Type) Append(b []byte, v any) ([]byte, error) {
	switch t.kind {
	case kindString:
		switch s := v.(type) {
		case string:
			b = binary.AppendUvarint(b, uint64(len(s)))
			return append(b, s...), nil
		case []byte:
			b = binary.AppendUvarint(b, uint64(len(s)))
			return append(b, s...), nil
		}
		return b, t.mismatch(v)
	case kindNullable:
		return t.appendNullable(b, v)
	case kindArray:
		return t.appendArray(b, v)
	case kindMap:
		return t.appendMap(b, v)
	case kindTuple:
		items, ok := v.([]any)
		if !ok || len(items) != len(t.elems) {
			return b, t.mismatch(v)
		}
		var err error
		for i, e := range t.elems {
			if b, err = e.Append(b, items[i]); err != nil {
				return b, err
			}
		}
		return b, nil
	case kindBool:
		x, ok := v.(bool)
		if !ok {
			return b, t.mismatch(v)
		}
		if x {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case kindFloat32, kindFloat64:
		return t.appendFloat(b, v)
	case kindInt8, kindInt16, kindInt32, kindInt64, kindUInt8, kindUInt16, kindUInt32, kindUInt64:
		return t.appendInt(b, v)
	case kindDate, kindDate32, kindDateTime, kindDateTime64:
		tm, ok := v.(time.Time)
		if !ok {
			return b, t.mismatch(v)
		}
		return t.appendTime(b, tm)
	case kindEnum8, kindEnum16:
		return t.appendEnum(b, v)
	case kindFixedString:
		var s []byte
		switch x := v.(type) {
		case string:
			s = []byte(x)
		case []byte:
			s = x
		default:
			return b, t.mismatch(v)
		}
		if len(s) > t.size {
			return b, fmt.Errorf("rowbinary: %d bytes do not fit %s", len(s), t.text)
		}
		b = append(b, s...)
		return append(b, make([]byte, t.size-len(s))...), nil
	case kindUUID:
		return t.appendUUID(b, v)
	case kindIPv4, kindIPv6:
		return t.appendIP(b, v)
	case kindInt128, kindInt256, kindUInt128, kindUInt256:
		n, err := t.bigValue(v)
		if err != nil {
			return b, err
		}
		signed := t.kind == kindInt128 || t.kind == kindInt256
		return appendBig(b, n, fixedSize(t), signed, t)
	case kindDecimal:
		n, err := t.decimalValue(v)
		if err != nil {
			return b, err
		}
		return appendBig(b, n, t.width, true, t)
	case kindNothing:
		if v != nil {
			return b, t.mismatch(v)
		}
		return b, nil
	}
	return b, fmt.Errorf("rowbinary: cannot encode %s", t.text)
}

func (t *Type) mismatch(v any) error {
	return fmt.Errorf("rowbinary: cannot use %T as %s", v, t.text)
}

func (t *Type) appendNullable(b []byte, v any) ([]byte, error) {
	inner, null := t.nullableValue(v)
	if null {
		return append(b, 1), nil
	}
	return t.elems[0].Append(append(b, 0), inner)
}

// nullableValue tells whether v is NULL for the Nullable type t (nil, or a
// nil pointer) and otherwise returns the value to encode as t's inner type
// (a pointer's target when the inner type is not itself a pointer).
func (t *Type) nullableValue(v any) (inner any, null bool) {
	if v == nil {
		return nil, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer {
		return v, false
	}
	if rv.IsNil() {
		return nil, true
	}
	if t.elems[0].goType.Kind() != reflect.Pointer {
		return rv.Elem().Interface(), false
	}
	return v, false
}

func (t *Type) appendArray(b []byte, v any) ([]byte, error) {
	elem := t.elems[0]
	if s, ok := v.([]string); ok && elem.kind == kindString {
		b = binary.AppendUvarint(b, uint64(len(s)))
		for _, x := range s {
			b = binary.AppendUvarint(b, uint64(len(x)))
			b = append(b, x...)
		}
		return b, nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return b, t.mismatch(v)
	}
	b = binary.AppendUvarint(b, uint64(rv.Len()))
	var err error
	for i := range rv.Len() {
		if b, err = elem.Append(b, rv.Index(i).Interface()); err != nil {
			return b, fmt.Errorf("element %d: %w", i, err)
		}
	}
	return b, nil
}

func (t *Type) appendMap(b []byte, v any) ([]byte, error) {
	kt, vt := t.elems[0], t.elems[1]
	if m, ok := v.(map[string]string); ok && kt.kind == kindString && vt.kind == kindString {
		b = binary.AppendUvarint(b, uint64(len(m)))
		for k, x := range m {
			b = binary.AppendUvarint(b, uint64(len(k)))
			b = append(b, k...)
			b = binary.AppendUvarint(b, uint64(len(x)))
			b = append(b, x...)
		}
		return b, nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Map {
		return b, t.mismatch(v)
	}
	b = binary.AppendUvarint(b, uint64(rv.Len()))
	var err error
	for it := rv.MapRange(); it.Next(); {
		if b, err = kt.Append(b, it.Key().Interface()); err != nil {
			return b, fmt.Errorf("map key: %w", err)
		}
		if b, err = vt.Append(b, it.Value().Interface()); err != nil {
			return b, fmt.Errorf("map value of %v: %w", it.Key().Interface(), err)
		}
	}
	return b, nil
}

// intValue returns v as a signed or unsigned 64-bit integer, for any Go
// integer type (including named ones such as time.Duration).
func intValue(v any) (i int64, u uint64, unsigned, ok bool) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), 0, false, true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return 0, rv.Uint(), true, true
	}
	return 0, 0, false, false
}

var intRanges = map[kind]struct {
	min  int64
	max  uint64
	size int
}{
	kindInt8:   {math.MinInt8, math.MaxInt8, 1},
	kindInt16:  {math.MinInt16, math.MaxInt16, 2},
	kindInt32:  {math.MinInt32, math.MaxInt32, 4},
	kindInt64:  {math.MinInt64, math.MaxInt64, 8},
	kindUInt8:  {0, math.MaxUint8, 1},
	kindUInt16: {0, math.MaxUint16, 2},
	kindUInt32: {0, math.MaxUint32, 4},
	kindUInt64: {0, math.MaxUint64, 8},
}

func (t *Type) appendInt(b []byte, v any) ([]byte, error) {
	i, u, unsigned, ok := intValue(v)
	if !ok {
		return b, t.mismatch(v)
	}
	r := intRanges[t.kind]
	var bits uint64
	switch {
	case unsigned && u <= r.max:
		bits = u
	case !unsigned && i >= r.min && (i < 0 || uint64(i) <= r.max):
		bits = uint64(i)
	default:
		return b, fmt.Errorf("rowbinary: %v (%T) out of range for %s", v, v, t.text)
	}
	for k := range r.size {
		b = append(b, byte(bits>>(8*k)))
	}
	return b, nil
}

func (t *Type) appendFloat(b []byte, v any) ([]byte, error) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
		if t.kind == kindFloat32 && float64(float32(x)) != x && !math.IsNaN(x) {
			return b, fmt.Errorf("rowbinary: %v does not fit %s exactly", x, t.text)
		}
	case float32:
		f = float64(x)
	default:
		i, u, unsigned, ok := intValue(v)
		if !ok {
			return b, t.mismatch(v)
		}
		limit := uint64(1) << 53
		if t.kind == kindFloat32 {
			limit = 1 << 24
		}
		if unsigned {
			if u > limit {
				return b, fmt.Errorf("rowbinary: %d does not fit %s exactly", u, t.text)
			}
			f = float64(u)
		} else {
			if i > int64(limit) || i < -int64(limit) {
				return b, fmt.Errorf("rowbinary: %d does not fit %s exactly", i, t.text)
			}
			f = float64(i)
		}
	}
	if t.kind == kindFloat32 {
		return binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(f))), nil
	}
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f)), nil
}

func (t *Type) appendTime(b []byte, tm time.Time) ([]byte, error) {
	le := binary.LittleEndian
	sec := tm.Unix()
	switch t.kind {
	case kindDate, kindDate32:
		days := sec / 86400
		if sec < 0 && sec%86400 != 0 {
			days--
		}
		if t.kind == kindDate {
			if days < 0 || days > math.MaxUint16 {
				return b, fmt.Errorf("rowbinary: %s out of range for Date", tm)
			}
			return le.AppendUint16(b, uint16(days)), nil
		}
		if days < math.MinInt32 || days > math.MaxInt32 {
			return b, fmt.Errorf("rowbinary: %s out of range for Date32", tm)
		}
		return le.AppendUint32(b, uint32(int32(days))), nil
	case kindDateTime:
		if sec < 0 || sec > math.MaxUint32 {
			return b, fmt.Errorf("rowbinary: %s out of range for %s", tm, t.text)
		}
		return le.AppendUint32(b, uint32(sec)), nil
	}
	// DateTime64(p): ticks of 10^-p seconds; check the multiplication.
	scale := pow10[t.size]
	ticks := sec * scale
	if sec != 0 && (ticks/scale != sec) {
		return b, fmt.Errorf("rowbinary: %s out of range for %s", tm, t.text)
	}
	frac := int64(tm.Nanosecond()) / pow10[9-t.size]
	sum := ticks + frac
	if frac > 0 && sum < ticks {
		return b, fmt.Errorf("rowbinary: %s out of range for %s", tm, t.text)
	}
	return le.AppendUint64(b, uint64(sum)), nil
}

func (t *Type) appendEnum(b []byte, v any) ([]byte, error) {
	var code int16
	if s, ok := v.(string); ok {
		c, found := t.enumCodes[s]
		if !found {
			return b, fmt.Errorf("rowbinary: %q is not a value of %s", s, t.text)
		}
		code = c
	} else {
		i, u, unsigned, ok := intValue(v)
		if !ok {
			return b, t.mismatch(v)
		}
		if unsigned {
			i = int64(min(u, math.MaxInt32))
		}
		if _, found := t.enumNames[int16(i)]; !found || i < math.MinInt16 || i > math.MaxInt16 {
			return b, fmt.Errorf("rowbinary: %d is not a value of %s", i, t.text)
		}
		code = int16(i)
	}
	if t.kind == kindEnum8 {
		return append(b, byte(code)), nil
	}
	return binary.LittleEndian.AppendUint16(b, uint16(code)), nil
}

func (t *Type) appendUUID(b []byte, v any) ([]byte, error) {
	var u [16]byte
	switch x := v.(type) {
	case [16]byte:
		u = x
	case string:
		h := strings.ReplaceAll(x, "-", "")
		if len(h) != 32 || (len(x) != 32 && len(x) != 36) {
			return b, fmt.Errorf("rowbinary: %q is not a UUID", x)
		}
		if _, err := hex.Decode(u[:], []byte(h)); err != nil {
			return b, fmt.Errorf("rowbinary: %q is not a UUID: %w", x, err)
		}
	default:
		return b, t.mismatch(v)
	}
	for i := range 8 {
		b = append(b, u[7-i])
	}
	for i := range 8 {
		b = append(b, u[15-i])
	}
	return b, nil
}

func (t *Type) appendIP(b []byte, v any) ([]byte, error) {
	var a netip.Addr
	switch x := v.(type) {
	case netip.Addr:
		a = x
	case string:
		var err error
		if a, err = netip.ParseAddr(x); err != nil {
			return b, fmt.Errorf("rowbinary: %w", err)
		}
	default:
		return b, t.mismatch(v)
	}
	if t.kind == kindIPv4 {
		a = a.Unmap()
		if !a.Is4() {
			return b, fmt.Errorf("rowbinary: %s is not an IPv4 address", a)
		}
		four := a.As4()
		return binary.LittleEndian.AppendUint32(b, binary.BigEndian.Uint32(four[:])), nil
	}
	sixteen := a.As16()
	return append(b, sixteen[:]...), nil
}

func (t *Type) bigValue(v any) (*big.Int, error) {
	switch x := v.(type) {
	case *big.Int:
		if x == nil {
			return nil, t.mismatch(v)
		}
		return x, nil
	case big.Int:
		return &x, nil
	}
	i, u, unsigned, ok := intValue(v)
	if !ok {
		return nil, t.mismatch(v)
	}
	if unsigned {
		return new(big.Int).SetUint64(u), nil
	}
	return big.NewInt(i), nil
}

// decimalValue turns v into the unscaled integer of a Decimal with t's
// scale: a string such as "-12.50", or an integer. Digits beyond the scale
// are an error, not rounded away.
func (t *Type) decimalValue(v any) (*big.Int, error) {
	s, ok := v.(string)
	if !ok {
		n, err := t.bigValue(v)
		if err != nil {
			return nil, err
		}
		return new(big.Int).Mul(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(t.size)), nil)), nil
	}
	digits, frac, _ := strings.Cut(strings.TrimSpace(s), ".")
	if len(frac) > t.size {
		return nil, fmt.Errorf("rowbinary: %q has more than %d decimal places for %s", s, t.size, t.text)
	}
	text := digits + frac + strings.Repeat("0", t.size-len(frac))
	n, ok := new(big.Int).SetString(text, 10)
	if !ok || strings.ContainsAny(frac, "+-") {
		return nil, fmt.Errorf("rowbinary: %q is not a decimal number", s)
	}
	return n, nil
}

// appendBig appends n as a little-endian two's complement integer of size
// bytes, checking that it fits.
func appendBig(b []byte, n *big.Int, size int, signed bool, t *Type) ([]byte, error) {
	bits := size * 8
	if signed {
		limit := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
		if n.Cmp(limit) >= 0 || n.Cmp(new(big.Int).Neg(limit)) < 0 {
			return b, fmt.Errorf("rowbinary: %s out of range for %s", n, t.text)
		}
	} else if n.Sign() < 0 || n.BitLen() > bits {
		return b, fmt.Errorf("rowbinary: %s out of range for %s", n, t.text)
	}
	u := new(big.Int).Set(n)
	if u.Sign() < 0 {
		u.Add(u, new(big.Int).Lsh(big.NewInt(1), uint(bits)))
	}
	be := u.FillBytes(make([]byte, size))
	for i := size - 1; i >= 0; i-- {
		b = append(b, be[i])
	}
	return b, nil
}
