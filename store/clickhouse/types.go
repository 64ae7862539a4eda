package clickhouse

import (
	"fmt"
	"math/big"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// chType is a parsed ClickHouse type, as much as decoding needs: the
// wrappers that change the Go type (Nullable, Array, Map, Tuple) and the
// leaf types whose clickhouse-go value differs from the one store.Rows
// documents.
type chType struct {
	name  string    // e.g. "Array", "DateTime64", "Decimal"
	elems []*chType // Nullable/Array: [elem]; Map: [key, value]; Tuple: fields
	names []string  // a named Tuple's field names
	scale int       // Decimal scale
	text  string
}

// parseType parses a ClickHouse type text ("Map(LowCardinality(String), String)").
// LowCardinality and SimpleAggregateFunction are unwrapped.
func parseType(text string) (*chType, error) {
	text = strings.TrimSpace(text)
	name, args, err := splitTypeArgs(text)
	if err != nil {
		return nil, fmt.Errorf("type %q: %w", text, err)
	}
	t := &chType{name: name, text: text}
	switch name {
	case "LowCardinality":
		if len(args) != 1 {
			return nil, fmt.Errorf("type %q: want one argument", text)
		}
		return parseType(args[0])
	case "SimpleAggregateFunction":
		if len(args) != 2 {
			return nil, fmt.Errorf("type %q: want two arguments", text)
		}
		return parseType(args[1])
	case "Nullable", "Array":
		if len(args) != 1 {
			return nil, fmt.Errorf("type %q: want one argument", text)
		}
		e, err := parseType(args[0])
		if err != nil {
			return nil, err
		}
		t.elems = []*chType{e}
	case "Map":
		if len(args) != 2 {
			return nil, fmt.Errorf("type %q: want two arguments", text)
		}
		for _, a := range args {
			e, err := parseType(a)
			if err != nil {
				return nil, err
			}
			t.elems = append(t.elems, e)
		}
	case "Tuple", "Nested":
		for _, a := range args {
			field, typ := splitTupleField(a)
			e, err := parseType(typ)
			if err != nil {
				return nil, err
			}
			t.elems = append(t.elems, e)
			t.names = append(t.names, field)
		}
		if name == "Nested" { // a Nested column reads as Array(Tuple(...))
			inner := &chType{name: "Tuple", elems: t.elems, names: t.names, text: text}
			t = &chType{name: "Array", elems: []*chType{inner}, text: text}
		}
	case "Decimal":
		if len(args) != 2 {
			return nil, fmt.Errorf("type %q: want precision and scale", text)
		}
		t.scale, err = strconv.Atoi(strings.TrimSpace(args[1]))
		if err != nil {
			return nil, fmt.Errorf("type %q: scale: %w", text, err)
		}
	case "Decimal32", "Decimal64", "Decimal128", "Decimal256":
		if len(args) != 1 {
			return nil, fmt.Errorf("type %q: want a scale", text)
		}
		t.name = "Decimal"
		t.scale, err = strconv.Atoi(strings.TrimSpace(args[0]))
		if err != nil {
			return nil, fmt.Errorf("type %q: scale: %w", text, err)
		}
	}
	return t, nil
}

// splitTypeArgs splits "Name(a, b(c, d))" into "Name" and ["a", "b(c, d)"],
// respecting parentheses and quoted strings.
func splitTypeArgs(text string) (string, []string, error) {
	open := strings.IndexByte(text, '(')
	if open < 0 {
		return text, nil, nil
	}
	if !strings.HasSuffix(text, ")") {
		return "", nil, fmt.Errorf("unbalanced parentheses")
	}
	name := strings.TrimSpace(text[:open])
	inner := text[open+1 : len(text)-1]
	var (
		args  []string
		depth int
		start int
		quote byte
	)
	for i := 0; i < len(inner); i++ {
		c := inner[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '`' || c == '"':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth < 0 {
				return "", nil, fmt.Errorf("unbalanced parentheses")
			}
		case c == ',' && depth == 0:
			args = append(args, strings.TrimSpace(inner[start:i]))
			start = i + 1
		}
	}
	if depth != 0 || quote != 0 {
		return "", nil, fmt.Errorf("unbalanced parentheses or quotes")
	}
	if rest := strings.TrimSpace(inner[start:]); rest != "" || len(args) > 0 {
		args = append(args, rest)
	}
	return name, args, nil
}

// splitTupleField splits a Tuple element "name Type" into its name and type;
// an unnamed element has no name.
func splitTupleField(s string) (string, string) {
	s = strings.TrimSpace(s)
	i := strings.IndexAny(s, " (")
	if i < 0 || s[i] == '(' {
		return "", s
	}
	name := strings.Trim(s[:i], "`\"")
	return name, strings.TrimSpace(s[i+1:])
}

var (
	typeString   = reflect.TypeFor[string]()
	typeTime     = reflect.TypeFor[time.Time]()
	typeBigInt   = reflect.TypeFor[*big.Int]()
	typeAddr     = reflect.TypeFor[netip.Addr]()
	typeAnySlice = reflect.TypeFor[[]any]()
	typeAny      = reflect.TypeFor[any]()
)

var leafGoTypes = map[string]reflect.Type{
	"Int8": reflect.TypeFor[int8](), "Int16": reflect.TypeFor[int16](),
	"Int32": reflect.TypeFor[int32](), "Int64": reflect.TypeFor[int64](),
	"UInt8": reflect.TypeFor[uint8](), "UInt16": reflect.TypeFor[uint16](),
	"UInt32": reflect.TypeFor[uint32](), "UInt64": reflect.TypeFor[uint64](),
	"Int128": typeBigInt, "Int256": typeBigInt, "UInt128": typeBigInt, "UInt256": typeBigInt,
	"Float32": reflect.TypeFor[float32](), "Float64": reflect.TypeFor[float64](),
	"Bool": reflect.TypeFor[bool](), "String": typeString, "FixedString": typeString,
	"UUID": typeString, "Enum8": typeString, "Enum16": typeString, "Decimal": typeString,
	"Date": typeTime, "Date32": typeTime, "DateTime": typeTime, "DateTime64": typeTime,
	"IPv4": typeAddr, "IPv6": typeAddr, "Nothing": typeAny,
}

// goType is the Go type a value of t decodes to (the types store.Rows
// documents, the same as the chDB engine's); nil when this engine passes
// clickhouse-go's value through unchanged (JSON, Variant, geo types, ...).
func (t *chType) goType() reflect.Type {
	switch t.name {
	case "Nullable":
		if t.elems[0].name == "Nothing" {
			return typeAny // only NULL: nil
		}
		if e := t.elems[0].goType(); e != nil {
			return reflect.PointerTo(e)
		}
		return nil
	case "Array":
		if e := t.elems[0].goType(); e != nil {
			return reflect.SliceOf(e)
		}
		return nil
	case "Map":
		k, v := t.elems[0].goType(), t.elems[1].goType()
		if k == nil || v == nil {
			return nil
		}
		return reflect.MapOf(k, v)
	case "Tuple":
		return typeAnySlice
	}
	return leafGoTypes[t.name]
}
