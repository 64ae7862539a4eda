package rowbinary

import (
	"fmt"
	"math/big"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// kind is the RowBinary layout of a type.
type kind int

const (
	kindInt8 kind = iota
	kindInt16
	kindInt32
	kindInt64
	kindUInt8
	kindUInt16
	kindUInt32
	kindUInt64
	kindInt128
	kindInt256
	kindUInt128
	kindUInt256
	kindFloat32
	kindFloat64
	kindBool
	kindString
	kindFixedString
	kindUUID
	kindDate
	kindDate32
	kindDateTime
	kindDateTime64
	kindEnum8
	kindEnum16
	kindDecimal
	kindIPv4
	kindIPv6
	kindNothing
	kindNullable
	kindArray
	kindMap
	kindTuple
)

// Type is a parsed ClickHouse column type that knows its RowBinary layout
// and the Go type its values decode to.
type Type struct {
	text string
	kind kind
	// elems: Array and Nullable [elem]; Map [key, value]; Tuple its fields.
	elems []*Type
	// fieldNames are the names of a named Tuple's fields ("" when unnamed).
	fieldNames []string
	// size is FixedString's length, DateTime64's precision, a Decimal's
	// scale.
	size int
	// width is a Decimal's storage size in bytes.
	width int
	// enumCodes and enumNames map an Enum's names and values both ways.
	enumCodes map[string]int16
	enumNames map[int16]string
	goType    reflect.Type
}

// String returns the type's text as ClickHouse wrote it.
func (t *Type) String() string { return t.text }

// GoType is the Go type Decode returns for this ClickHouse type.
func (t *Type) GoType() reflect.Type { return t.goType }

var (
	typeString   = reflect.TypeFor[string]()
	typeTime     = reflect.TypeFor[time.Time]()
	typeBigInt   = reflect.TypeFor[*big.Int]()
	typeAddr     = reflect.TypeFor[netip.Addr]()
	typeAnySlice = reflect.TypeFor[[]any]()
	typeAny      = reflect.TypeFor[any]()
)

// simpleTypes are the types without arguments, by name.
var simpleTypes = map[string]struct {
	kind   kind
	goType reflect.Type
}{
	"Int8":    {kindInt8, reflect.TypeFor[int8]()},
	"Int16":   {kindInt16, reflect.TypeFor[int16]()},
	"Int32":   {kindInt32, reflect.TypeFor[int32]()},
	"Int64":   {kindInt64, reflect.TypeFor[int64]()},
	"UInt8":   {kindUInt8, reflect.TypeFor[uint8]()},
	"UInt16":  {kindUInt16, reflect.TypeFor[uint16]()},
	"UInt32":  {kindUInt32, reflect.TypeFor[uint32]()},
	"UInt64":  {kindUInt64, reflect.TypeFor[uint64]()},
	"Int128":  {kindInt128, typeBigInt},
	"Int256":  {kindInt256, typeBigInt},
	"UInt128": {kindUInt128, typeBigInt},
	"UInt256": {kindUInt256, typeBigInt},
	"Float32": {kindFloat32, reflect.TypeFor[float32]()},
	"Float64": {kindFloat64, reflect.TypeFor[float64]()},
	"Bool":    {kindBool, reflect.TypeFor[bool]()},
	"String":  {kindString, typeString},
	"UUID":    {kindUUID, typeString},
	"Date":    {kindDate, typeTime},
	"Date32":  {kindDate32, typeTime},
	"IPv4":    {kindIPv4, typeAddr},
	"IPv6":    {kindIPv6, typeAddr},
	"Nothing": {kindNothing, typeAny},
}

// Parse parses a ClickHouse type as it appears in system.columns or in the
// header of RowBinaryWithNamesAndTypes.
func Parse(text string) (*Type, error) {
	t, err := parse(strings.TrimSpace(text))
	if err != nil {
		return nil, fmt.Errorf("rowbinary: type %q: %w", text, err)
	}
	return t, nil
}

func parse(text string) (*Type, error) {
	name, args, err := splitType(text)
	if err != nil {
		return nil, err
	}
	t := &Type{text: text}
	if s, ok := simpleTypes[name]; ok && args == nil {
		t.kind, t.goType = s.kind, s.goType
		return t, nil
	}
	switch name {
	case "LowCardinality":
		// RowBinary writes LowCardinality(T) exactly as T.
		if len(args) != 1 {
			return nil, fmt.Errorf("LowCardinality takes one type")
		}
		inner, err := parse(args[0])
		if err != nil {
			return nil, err
		}
		inner.text = text
		return inner, nil
	case "SimpleAggregateFunction":
		// Stored and transferred as its value type (the last argument).
		if len(args) < 2 {
			return nil, fmt.Errorf("SimpleAggregateFunction takes a function and a type")
		}
		inner, err := parse(args[len(args)-1])
		if err != nil {
			return nil, err
		}
		inner.text = text
		return inner, nil
	case "Nullable":
		if len(args) != 1 {
			return nil, fmt.Errorf("Nullable takes one type")
		}
		inner, err := parse(args[0])
		if err != nil {
			return nil, err
		}
		t.kind, t.elems = kindNullable, []*Type{inner}
		switch inner.goType.Kind() {
		case reflect.Pointer, reflect.Interface:
			t.goType = inner.goType // nil already means NULL
		default:
			t.goType = reflect.PointerTo(inner.goType)
		}
		return t, nil
	case "Array":
		if len(args) != 1 {
			return nil, fmt.Errorf("Array takes one type")
		}
		inner, err := parse(args[0])
		if err != nil {
			return nil, err
		}
		t.kind, t.elems, t.goType = kindArray, []*Type{inner}, reflect.SliceOf(inner.goType)
		return t, nil
	case "Map":
		if len(args) != 2 {
			return nil, fmt.Errorf("Map takes a key and a value type")
		}
		k, err := parse(args[0])
		if err != nil {
			return nil, err
		}
		v, err := parse(args[1])
		if err != nil {
			return nil, err
		}
		if !k.goType.Comparable() {
			return nil, fmt.Errorf("map key type %s is not supported", k.text)
		}
		t.kind, t.elems, t.goType = kindMap, []*Type{k, v}, reflect.MapOf(k.goType, v.goType)
		return t, nil
	case "Tuple", "Nested":
		if len(args) == 0 {
			return nil, fmt.Errorf("%s needs at least one element", name)
		}
		tuple := &Type{text: text, kind: kindTuple, goType: typeAnySlice}
		for _, a := range args {
			field, typ := splitField(a)
			inner, err := parse(typ)
			if err != nil {
				return nil, err
			}
			tuple.elems = append(tuple.elems, inner)
			tuple.fieldNames = append(tuple.fieldNames, field)
		}
		if name == "Tuple" {
			return tuple, nil
		}
		// Nested(a T, b U) is an array of tuples.
		tuple.text = "Tuple(" + strings.Join(args, ", ") + ")"
		t.kind, t.elems, t.goType = kindArray, []*Type{tuple}, reflect.SliceOf(typeAnySlice)
		return t, nil
	case "FixedString":
		n, err := intArg(args, 0, 1)
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return nil, fmt.Errorf("FixedString length must be positive")
		}
		t.kind, t.size, t.goType = kindFixedString, n, typeString
		return t, nil
	case "DateTime":
		// DateTime or DateTime('Zone'): seconds since the epoch either way.
		if len(args) > 1 {
			return nil, fmt.Errorf("DateTime takes at most a time zone")
		}
		t.kind, t.goType = kindDateTime, typeTime
		return t, nil
	case "DateTime64":
		p, err := intArg(args, 0, 2)
		if err != nil {
			return nil, err
		}
		if p < 0 || p > 9 {
			return nil, fmt.Errorf("DateTime64 precision %d out of range 0..9", p)
		}
		t.kind, t.size, t.goType = kindDateTime64, p, typeTime
		return t, nil
	case "Enum8", "Enum16", "Enum":
		t.kind = kindEnum8
		if name == "Enum16" {
			t.kind = kindEnum16
		}
		t.goType = typeString
		if err := t.parseEnum(args); err != nil {
			return nil, err
		}
		return t, nil
	case "Decimal", "Decimal32", "Decimal64", "Decimal128", "Decimal256":
		return parseDecimal(t, name, args)
	}
	return nil, fmt.Errorf("unsupported type %s", name)
}

func parseDecimal(t *Type, name string, args []string) (*Type, error) {
	t.kind, t.goType = kindDecimal, typeString
	var precision int
	var err error
	switch name {
	case "Decimal":
		if len(args) != 2 {
			return nil, fmt.Errorf("Decimal takes precision and scale")
		}
		if precision, err = intArg(args, 0, 2); err != nil {
			return nil, err
		}
		if t.size, err = intArg(args, 1, 2); err != nil {
			return nil, err
		}
	default:
		if t.size, err = intArg(args, 0, 1); err != nil {
			return nil, err
		}
		precision = map[string]int{"Decimal32": 9, "Decimal64": 18, "Decimal128": 38, "Decimal256": 76}[name]
	}
	switch {
	case precision < 1 || precision > 76:
		return nil, fmt.Errorf("decimal precision %d out of range 1..76", precision)
	case precision <= 9:
		t.width = 4
	case precision <= 18:
		t.width = 8
	case precision <= 38:
		t.width = 16
	default:
		t.width = 32
	}
	if t.size < 0 || t.size > precision {
		return nil, fmt.Errorf("decimal scale %d out of range 0..%d", t.size, precision)
	}
	return t, nil
}

func (t *Type) parseEnum(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("enum without values")
	}
	t.enumCodes = make(map[string]int16, len(args))
	t.enumNames = make(map[int16]string, len(args))
	for _, a := range args {
		name, rest, err := unquote(a)
		if err != nil {
			return fmt.Errorf("enum value %s: %w", a, err)
		}
		rest = strings.TrimSpace(rest)
		if !strings.HasPrefix(rest, "=") {
			return fmt.Errorf("enum value %s: missing '='", a)
		}
		code, err := strconv.ParseInt(strings.TrimSpace(rest[1:]), 10, 16)
		if err != nil {
			return fmt.Errorf("enum value %s: %w", a, err)
		}
		if t.kind == kindEnum8 && (code < -128 || code > 127) {
			return fmt.Errorf("enum value %s: out of Enum8 range", a)
		}
		t.enumCodes[name] = int16(code)
		t.enumNames[int16(code)] = name
	}
	return nil
}

func intArg(args []string, i, maxArgs int) (int, error) {
	if len(args) <= i || len(args) > maxArgs {
		return 0, fmt.Errorf("wrong number of arguments")
	}
	n, err := strconv.Atoi(strings.TrimSpace(args[i]))
	if err != nil {
		return 0, fmt.Errorf("argument %q: %w", args[i], err)
	}
	return n, nil
}

// splitType splits "Name(a, b)" into "Name" and its top-level arguments;
// args is nil when there are no parentheses.
func splitType(text string) (string, []string, error) {
	open := strings.IndexByte(text, '(')
	if open < 0 {
		if text == "" {
			return "", nil, fmt.Errorf("empty type")
		}
		return text, nil, nil
	}
	if !strings.HasSuffix(text, ")") {
		return "", nil, fmt.Errorf("unbalanced parentheses")
	}
	name := strings.TrimSpace(text[:open])
	args, err := splitArgs(text[open+1 : len(text)-1])
	if err != nil {
		return "", nil, err
	}
	if args == nil {
		args = []string{}
	}
	return name, args, nil
}

// splitArgs splits at commas outside parentheses, quotes and backticks.
func splitArgs(s string) ([]string, error) {
	var args []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'', '`', '"':
			end, err := skipQuoted(s, i)
			if err != nil {
				return nil, err
			}
			i = end
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("unbalanced parentheses")
			}
		case ',':
			if depth == 0 {
				args = append(args, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("unbalanced parentheses")
	}
	if last := strings.TrimSpace(s[start:]); last != "" || len(args) > 0 {
		args = append(args, last)
	}
	return args, nil
}

// skipQuoted returns the index of the quote closing the one at s[i].
func skipQuoted(s string, i int) (int, error) {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case q:
			return j, nil
		}
	}
	return 0, fmt.Errorf("unterminated quote")
}

// unquote reads the quoted string at the start of s ('...' with backslash
// escapes) and returns it and the rest of s.
func unquote(s string) (string, string, error) {
	s = strings.TrimSpace(s)
	if s == "" || (s[0] != '\'' && s[0] != '`') {
		return "", "", fmt.Errorf("expected a quoted string")
	}
	end, err := skipQuoted(s, 0)
	if err != nil {
		return "", "", err
	}
	var b strings.Builder
	for i := 1; i < end; i++ {
		c := s[i]
		if c == '\\' && i+1 < end {
			i++
			c = s[i]
			switch c {
			case 'n':
				c = '\n'
			case 't':
				c = '\t'
			case 'r':
				c = '\r'
			case '0':
				c = 0
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			}
		}
		b.WriteByte(c)
	}
	return b.String(), s[end+1:], nil
}

// splitField splits a Tuple or Nested element "name Type" into its name and
// type; an unnamed element returns "" and the whole text.
func splitField(s string) (string, string) {
	if s != "" && s[0] == '`' {
		if name, rest, err := unquote(s); err == nil {
			return name, strings.TrimSpace(rest)
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' {
			return s[:i], strings.TrimSpace(s[i+1:])
		}
		if c != '_' && c != '.' && !('a' <= c && c <= 'z') && !('A' <= c && c <= 'Z') && !('0' <= c && c <= '9') {
			break
		}
	}
	return "", s
}
