package rowbinary

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net/netip"
	"reflect"
	"strings"
	"time"
)

// Decoder reads RowBinary data that may arrive in chunks: a value can start
// in one chunk and end in the next.
type Decoder struct {
	buf     []byte
	pos     int
	next    func() ([]byte, error)
	scratch []byte
}

// NewDecoder returns a Decoder that calls next for each further chunk of
// data; next returns io.EOF when there is no more.
func NewDecoder(next func() ([]byte, error)) *Decoder {
	return &Decoder{next: next}
}

// NewBytesDecoder returns a Decoder over one buffer.
func NewBytesDecoder(b []byte) *Decoder {
	return &Decoder{buf: b, next: func() ([]byte, error) { return nil, io.EOF }}
}

// More reports whether any data is left, fetching a chunk if needed.
func (d *Decoder) More() (bool, error) {
	for d.pos >= len(d.buf) {
		chunk, err := d.next()
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		d.buf, d.pos = chunk, 0
	}
	return true, nil
}

// Rest returns the unread bytes of the current chunk.
func (d *Decoder) Rest() []byte { return d.buf[d.pos:] }

// take returns the next n bytes. The slice is valid until the next call.
func (d *Decoder) take(n int) ([]byte, error) {
	if n <= len(d.buf)-d.pos {
		b := d.buf[d.pos : d.pos+n]
		d.pos += n
		return b, nil
	}
	// The value spans chunks: gather it in scratch.
	d.scratch = append(d.scratch[:0], d.buf[d.pos:]...)
	d.pos = len(d.buf)
	for len(d.scratch) < n {
		more, err := d.More()
		if err != nil {
			return nil, err
		}
		if !more {
			return nil, fmt.Errorf("rowbinary: data ends inside a value: %w", io.ErrUnexpectedEOF)
		}
		k := min(n-len(d.scratch), len(d.buf)-d.pos)
		d.scratch = append(d.scratch, d.buf[d.pos:d.pos+k]...)
		d.pos += k
	}
	return d.scratch, nil
}

func (d *Decoder) byte() (byte, error) {
	if d.pos < len(d.buf) {
		c := d.buf[d.pos]
		d.pos++
		return c, nil
	}
	b, err := d.take(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

// uvarint reads a ClickHouse VarUInt (unsigned LEB128).
func (d *Decoder) uvarint() (uint64, error) {
	var x uint64
	for shift := uint(0); shift < 64; shift += 7 {
		c, err := d.byte()
		if err != nil {
			return 0, err
		}
		x |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return x, nil
		}
	}
	return 0, fmt.Errorf("rowbinary: varint overflows 64 bits")
}

// length reads a VarUInt length and checks it against what a value could
// plausibly hold, so corrupt input cannot make us allocate terabytes.
func (d *Decoder) length() (int, error) {
	n, err := d.uvarint()
	if err != nil {
		return 0, err
	}
	if n > 1<<40 {
		return 0, fmt.Errorf("rowbinary: length %d too large", n)
	}
	return int(n), nil
}

// maxPrealloc caps the capacity allocated ahead of reading a collection.
const maxPrealloc = 1 << 12

// String reads a length-prefixed string.
func (d *Decoder) String() (string, error) {
	n, err := d.length()
	if err != nil {
		return "", err
	}
	b, err := d.take(n)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// Header reads the header of RowBinaryWithNamesAndTypes: the column names,
// then their types.
func (d *Decoder) Header() (names []string, types []*Type, err error) {
	n, err := d.length()
	if err != nil {
		return nil, nil, fmt.Errorf("rowbinary: header: %w", err)
	}
	for range n {
		name, err := d.String()
		if err != nil {
			return nil, nil, fmt.Errorf("rowbinary: header: %w", err)
		}
		names = append(names, name)
	}
	for _, name := range names {
		text, err := d.String()
		if err != nil {
			return nil, nil, fmt.Errorf("rowbinary: header: %w", err)
		}
		typ, err := Parse(text)
		if err != nil {
			return nil, nil, fmt.Errorf("rowbinary: column %s: %w", name, err)
		}
		types = append(types, typ)
	}
	return names, types, nil
}

// Decode reads one value of type t.
func (t *Type) Decode(d *Decoder) (any, error) {
	switch t.kind {
	case kindInt8, kindUInt8, kindBool, kindEnum8:
		c, err := d.byte()
		if err != nil {
			return nil, err
		}
		switch t.kind {
		case kindInt8:
			return int8(c), nil
		case kindUInt8:
			return c, nil
		case kindBool:
			return c != 0, nil
		}
		return t.enumName(int16(int8(c)))
	case kindString:
		return d.String()
	case kindNullable:
		isNull, err := d.byte()
		if err != nil {
			return nil, err
		}
		if isNull != 0 {
			return reflect.Zero(t.goType).Interface(), nil
		}
		v, err := t.elems[0].Decode(d)
		if err != nil || t.goType == t.elems[0].goType {
			return v, err
		}
		return pointerTo(v, t.elems[0].goType), nil
	case kindArray:
		return t.decodeArray(d)
	case kindMap:
		return t.decodeMap(d)
	case kindTuple:
		out := make([]any, len(t.elems))
		for i, e := range t.elems {
			v, err := e.Decode(d)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case kindNothing:
		return nil, nil
	}
	return t.decodeFixed(d)
}

// decodeFixed reads the types whose size does not depend on the data.
func (t *Type) decodeFixed(d *Decoder) (any, error) {
	b, err := d.take(fixedSize(t))
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	switch t.kind {
	case kindInt16:
		return int16(le.Uint16(b)), nil
	case kindInt32:
		return int32(le.Uint32(b)), nil
	case kindInt64:
		return int64(le.Uint64(b)), nil
	case kindUInt16:
		return le.Uint16(b), nil
	case kindUInt32:
		return le.Uint32(b), nil
	case kindUInt64:
		return le.Uint64(b), nil
	case kindFloat32:
		return math.Float32frombits(le.Uint32(b)), nil
	case kindFloat64:
		return math.Float64frombits(le.Uint64(b)), nil
	case kindInt128, kindInt256:
		return signedLE(b), nil
	case kindUInt128, kindUInt256:
		return unsignedLE(b), nil
	case kindFixedString:
		return string(b), nil
	case kindUUID:
		return formatUUID(b), nil
	case kindDate:
		return time.Unix(int64(le.Uint16(b))*86400, 0).UTC(), nil
	case kindDate32:
		return time.Unix(int64(int32(le.Uint32(b)))*86400, 0).UTC(), nil
	case kindDateTime:
		return time.Unix(int64(le.Uint32(b)), 0).UTC(), nil
	case kindDateTime64:
		return ticksToTime(int64(le.Uint64(b)), t.size), nil
	case kindEnum16:
		return t.enumName(int16(le.Uint16(b)))
	case kindDecimal:
		return formatDecimal(signedLE(b), t.size), nil
	case kindIPv4:
		v := le.Uint32(b)
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), nil
	case kindIPv6:
		return netip.AddrFrom16([16]byte(b)), nil
	}
	return nil, fmt.Errorf("rowbinary: cannot decode %s", t.text)
}

func fixedSize(t *Type) int {
	switch t.kind {
	case kindInt16, kindUInt16, kindDate, kindEnum16:
		return 2
	case kindInt32, kindUInt32, kindFloat32, kindDate32, kindDateTime, kindIPv4:
		return 4
	case kindInt64, kindUInt64, kindFloat64, kindDateTime64:
		return 8
	case kindInt128, kindUInt128, kindUUID, kindIPv6:
		return 16
	case kindInt256, kindUInt256:
		return 32
	case kindFixedString:
		return t.size
	case kindDecimal:
		return t.width
	}
	return 0
}

func (t *Type) enumName(code int16) (string, error) {
	name, ok := t.enumNames[code]
	if !ok {
		return "", fmt.Errorf("rowbinary: %s has no value %d", t.text, code)
	}
	return name, nil
}

func (t *Type) decodeArray(d *Decoder) (any, error) {
	n, err := d.length()
	if err != nil {
		return nil, err
	}
	elem := t.elems[0]
	// Capacity grows with the data actually read: a corrupt length must not
	// allocate more than the input could hold.
	if elem.kind == kindString { // the common case, without reflection
		out := make([]string, 0, min(n, maxPrealloc))
		for range n {
			s, err := d.String()
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	out := reflect.MakeSlice(t.goType, 0, min(n, maxPrealloc))
	for range n {
		v, err := elem.Decode(d)
		if err != nil {
			return nil, err
		}
		out = reflect.Append(out, valueOf(v, elem.goType))
	}
	return out.Interface(), nil
}

func (t *Type) decodeMap(d *Decoder) (any, error) {
	n, err := d.length()
	if err != nil {
		return nil, err
	}
	kt, vt := t.elems[0], t.elems[1]
	if kt.kind == kindString && vt.kind == kindString { // the common case
		out := make(map[string]string, min(n, maxPrealloc))
		for range n {
			k, err := d.String()
			if err != nil {
				return nil, err
			}
			if out[k], err = d.String(); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	out := reflect.MakeMapWithSize(t.goType, min(n, maxPrealloc))
	for range n {
		k, err := kt.Decode(d)
		if err != nil {
			return nil, err
		}
		v, err := vt.Decode(d)
		if err != nil {
			return nil, err
		}
		out.SetMapIndex(valueOf(k, kt.goType), valueOf(v, vt.goType))
	}
	return out.Interface(), nil
}

// valueOf is reflect.ValueOf that keeps the static type for nil values.
func valueOf(v any, typ reflect.Type) reflect.Value {
	if v == nil {
		return reflect.Zero(typ)
	}
	return reflect.ValueOf(v)
}

func pointerTo(v any, typ reflect.Type) any {
	p := reflect.New(typ)
	if v != nil {
		p.Elem().Set(reflect.ValueOf(v))
	}
	return p.Interface()
}

// ticksToTime converts a DateTime64 value (ticks of 10^-precision seconds
// since the epoch) to a UTC time.
func ticksToTime(ticks int64, precision int) time.Time {
	scale := pow10[precision]
	sec, frac := ticks/scale, ticks%scale
	if frac < 0 {
		sec--
		frac += scale
	}
	return time.Unix(sec, frac*pow10[9-precision]).UTC()
}

var pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

// signedLE reads a little-endian two's complement integer.
func signedLE(b []byte) *big.Int {
	v := unsignedLE(b)
	if len(b) > 0 && b[len(b)-1]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return v
}

func unsignedLE(b []byte) *big.Int {
	be := make([]byte, len(b))
	for i, c := range b {
		be[len(b)-1-i] = c
	}
	return new(big.Int).SetBytes(be)
}

func formatDecimal(v *big.Int, scale int) string {
	s := new(big.Int).Abs(v).String()
	if scale > 0 {
		if len(s) <= scale {
			s = strings.Repeat("0", scale-len(s)+1) + s
		}
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if v.Sign() < 0 {
		s = "-" + s
	}
	return s
}

// formatUUID turns RowBinary's UUID layout (two little-endian UInt64
// halves, high half first) into the canonical text form.
func formatUUID(b []byte) string {
	var u [16]byte
	for i := range 8 {
		u[i] = b[7-i]
		u[8+i] = b[15-i]
	}
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[c>>4], hex[c&0xf])
	}
	return string(out)
}
