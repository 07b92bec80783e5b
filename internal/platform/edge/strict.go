package edge

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// A struct field tagged `required:"true"` must be present in the body and
// not null, whatever its Go zero value: a missing price.amount is an error,
// never a silent 0.
const requiredTag = "required"

// maxDepth bounds how deep a body may nest (the walk recurses per level).
const maxDepth = 64

// checkStrict reads the JSON body b once against the Go type t that it will
// be decoded into, and refuses what encoding/json would accept silently: a
// key given twice (the last one would win), a key that matches a field only
// case-insensitively, a missing or null required field. It also reports
// type mismatches by JSON path (price.amount, lines[2].sku) and JSON type
// (integer, number, string, boolean, object, array), where encoding/json
// names Go types and embedded struct names. b is valid UTF-8 and at most
// MaxBodyBytes; json.Valid checks its syntax first, so the walk itself can
// be a plain byte scan (BenchmarkDecodeJSON measures the cost).
func checkStrict(b []byte, t reflect.Type) error {
	if !json.Valid(b) {
		return syntaxError(b)
	}
	w := walker{b: b}
	w.space()
	if w.b[w.i] != '{' {
		return NewError(http.StatusBadRequest, CodeInvalidType, "body must be a JSON object")
	}
	return w.value(t)
}

// syntaxError says what is wrong with a body that json.Valid refused.
func syntaxError(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	var v any
	if err := dec.Decode(&v); err != nil {
		return malformed()
	}
	return NewError(http.StatusBadRequest, CodeMalformedJSON, "body must hold exactly one JSON object")
}

func malformed() error {
	return NewError(http.StatusBadRequest, CodeMalformedJSON, "body is not valid JSON")
}

// walker scans one syntactically valid body; path is where it is.
type walker struct {
	b    []byte
	i    int
	path []step
}

// step is an object key or, when key is nil, an array index.
type step struct {
	key []byte
	idx int
}

// at names the current position, followed by member if not empty, as a
// JSON path: price.amount, lines[2].sku.
func (w *walker) at(member string) string {
	var sb strings.Builder
	for _, p := range w.path {
		if p.key == nil {
			fmt.Fprintf(&sb, "[%d]", p.idx)
			continue
		}
		if sb.Len() > 0 {
			sb.WriteByte('.')
		}
		sb.Write(p.key)
	}
	if member != "" {
		if sb.Len() > 0 {
			sb.WriteByte('.')
		}
		sb.WriteString(member)
	}
	return sb.String()
}

func (w *walker) typeError(want string) error {
	return NewError(http.StatusBadRequest, CodeInvalidType, fmt.Sprintf("field %s must be of type %s", w.at(""), want))
}

func (w *walker) space() {
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

// str reads the string at w.i and returns its content: the raw bytes, or
// when they hold escapes (rare in keys) the unescaped text, as
// encoding/json will see it, so "n\u0061me" is the key name.
func (w *walker) str() []byte {
	start := w.i + 1
	escaped := false
	for w.i = start; w.b[w.i] != '"'; w.i++ {
		if w.b[w.i] == '\\' {
			escaped = true
			w.i++
		}
	}
	raw := w.b[start:w.i]
	w.i++
	if !escaped {
		return raw
	}
	var s string
	_ = json.Unmarshal(w.b[start-1:w.i], &s) // valid: json.Valid passed
	return []byte(s)
}

// scalar skips a number or literal and returns it.
func (w *walker) scalar() []byte {
	start := w.i
	for w.i < len(w.b) {
		switch c := w.b[w.i]; {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c == '-', c == '+', c == '.', c == 'E':
			w.i++
			continue
		}
		break
	}
	return w.b[start:w.i]
}

// value checks the value at w.i against the shape of t and moves past it.
func (w *walker) value(t reflect.Type) error {
	if len(w.path) > maxDepth {
		return NewError(http.StatusBadRequest, CodeMalformedJSON, fmt.Sprintf("body nests deeper than %d levels", maxDepth))
	}
	s := shapeOf(t)
	switch c := w.b[w.i]; {
	case c == '{':
		w.i++
		switch s.kind {
		case kindAny:
			return w.object(nil, nil)
		case kindStruct:
			return w.object(fieldsOf(s.t), nil)
		case kindMap:
			return w.object(nil, s.t.Elem())
		}
	case c == '[':
		w.i++
		switch s.kind {
		case kindAny:
			return w.array(nil)
		case kindArray:
			return w.array(s.t.Elem())
		}
	case c == '"':
		w.str()
		if s.kind == kindAny || s.kind == kindString {
			return nil
		}
	case c == 'n': // null: encoding/json leaves the field as it is
		w.scalar()
		return nil
	case c == 't' || c == 'f':
		w.scalar()
		if s.kind == kindAny || s.kind == kindBool {
			return nil
		}
	default:
		return w.number(string(w.scalar()), s)
	}
	return w.typeError(s.jsonType())
}

func (w *walker) number(lit string, s shape) error {
	switch s.kind {
	case kindAny:
		return nil
	case kindInt:
		bits := s.t.Bits()
		if _, err := strconv.ParseInt(lit, 10, bits); err != nil {
			if isRange(err) {
				lo, hi := int64(-1)<<(bits-1), int64(1)<<(bits-1)-1
				return NewError(http.StatusBadRequest, CodeInvalidType, fmt.Sprintf("field %s must be an integer from %d to %d", w.at(""), lo, hi))
			}
			return w.typeError("integer")
		}
		return nil
	case kindUint:
		bits := s.t.Bits()
		if _, err := strconv.ParseUint(lit, 10, bits); err != nil {
			if isRange(err) || strings.HasPrefix(lit, "-") && !strings.ContainsAny(lit, ".eE") {
				return NewError(http.StatusBadRequest, CodeInvalidType, fmt.Sprintf("field %s must be an integer from 0 to %d", w.at(""), uint64(1)<<bits-1))
			}
			return w.typeError("integer")
		}
		return nil
	case kindFloat:
		if _, err := strconv.ParseFloat(lit, s.t.Bits()); err != nil {
			return NewError(http.StatusBadRequest, CodeInvalidType, fmt.Sprintf("field %s is too large a number", w.at("")))
		}
		return nil
	}
	return w.typeError(s.jsonType())
}

func isRange(err error) bool {
	var ne *strconv.NumError
	return errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange)
}

// object reads the members of an object whose '{' was read: the fields of
// a struct (fs), or the values of a map or untyped object (elem; nil for
// any value).
func (w *walker) object(fs *structFields, elem reflect.Type) error {
	var seen, set bitset     // struct fields: given, given and not null
	var keys map[string]bool // other objects: the keys given
	if fs != nil {
		seen, set = newBitset(len(fs.byPos)), newBitset(len(fs.byPos))
	}
	w.space()
	if w.b[w.i] == '}' {
		w.i++
		return w.missing(fs, set)
	}
	for {
		w.space()
		key := w.str()
		w.space()
		w.i++ // ':'
		w.space()
		t := elem
		if fs != nil {
			f, ok := fs.byName[string(key)]
			if !ok {
				return NewError(http.StatusBadRequest, CodeUnknownField, fmt.Sprintf("unknown field %q is not allowed", w.at(string(key))))
			}
			if seen.has(f.pos) {
				return NewError(http.StatusBadRequest, CodeDuplicateField, fmt.Sprintf("field %s appears more than once", w.at(string(key))))
			}
			seen.add(f.pos)
			if w.b[w.i] != 'n' {
				set.add(f.pos)
			}
			t = f.typ
		} else {
			if keys[string(key)] {
				return NewError(http.StatusBadRequest, CodeDuplicateField, fmt.Sprintf("field %s appears more than once", w.at(string(key))))
			}
			if keys == nil {
				keys = map[string]bool{}
			}
			keys[string(key)] = true
		}
		w.path = append(w.path, step{key: key})
		err := w.value(t)
		w.path = w.path[:len(w.path)-1]
		if err != nil {
			return err
		}
		w.space()
		c := w.b[w.i]
		w.i++
		if c == '}' {
			return w.missing(fs, set)
		}
	}
}

// missing reports the first required field of fs not set.
func (w *walker) missing(fs *structFields, set bitset) error {
	if fs == nil {
		return nil
	}
	for _, pos := range fs.required {
		if !set.has(pos) {
			return NewError(http.StatusBadRequest, CodeValidation, w.at(fs.byPos[pos])+" is required")
		}
	}
	return nil
}

// array reads the elements of an array whose '[' was read.
func (w *walker) array(elem reflect.Type) error {
	w.space()
	if w.b[w.i] == ']' {
		w.i++
		return nil
	}
	for i := 0; ; i++ {
		w.space()
		w.path = append(w.path, step{idx: i})
		err := w.value(elem)
		w.path = w.path[:len(w.path)-1]
		if err != nil {
			return err
		}
		w.space()
		c := w.b[w.i]
		w.i++
		if c == ']' {
			return nil
		}
	}
}

// bitset is a set of small integers, without allocating up to 64.
type bitset struct {
	small uint64
	large []bool
}

func newBitset(n int) bitset {
	if n <= 64 {
		return bitset{}
	}
	return bitset{large: make([]bool, n)}
}

func (b *bitset) add(i int) {
	if b.large != nil {
		b.large[i] = true
		return
	}
	b.small |= 1 << i
}

func (b bitset) has(i int) bool {
	if b.large != nil {
		return b.large[i]
	}
	return b.small&(1<<i) != 0
}

// kind is the JSON shape a Go type decodes from.
type kind int

const (
	kindAny kind = iota // any value: interface{}, json.Unmarshaler, ",string" fields
	kindString
	kindBool
	kindInt
	kindUint
	kindFloat
	kindStruct
	kindMap
	kindArray
)

type shape struct {
	kind kind
	t    reflect.Type // pointers removed
}

func (s shape) jsonType() string {
	switch s.kind {
	case kindString:
		return "string"
	case kindBool:
		return "boolean"
	case kindInt, kindUint:
		return "integer"
	case kindFloat:
		return "number"
	case kindStruct, kindMap:
		return "object"
	case kindArray:
		return "array"
	}
	return "any"
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// shapeOf follows encoding/json's rules: pointers are followed, a type that
// unmarshals itself takes any value (a TextUnmarshaler a string), []byte is
// a base64 string.
func shapeOf(t reflect.Type) shape {
	for t != nil {
		if t.Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(jsonUnmarshaler) {
			return shape{kind: kindAny, t: t}
		}
		if t.Implements(textUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
			return shape{kind: kindString, t: t}
		}
		if t.Kind() != reflect.Pointer {
			break
		}
		t = t.Elem()
	}
	if t == nil {
		return shape{kind: kindAny}
	}
	switch t.Kind() {
	case reflect.String:
		return shape{kindString, t}
	case reflect.Bool:
		return shape{kindBool, t}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return shape{kindInt, t}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return shape{kindUint, t}
	case reflect.Float32, reflect.Float64:
		return shape{kindFloat, t}
	case reflect.Struct:
		return shape{kindStruct, t}
	case reflect.Map:
		return shape{kindMap, t}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && !reflect.PointerTo(t.Elem()).Implements(jsonUnmarshaler) && !reflect.PointerTo(t.Elem()).Implements(textUnmarshaler) {
			return shape{kindString, t} // base64
		}
		return shape{kindArray, t}
	case reflect.Array:
		return shape{kindArray, t}
	}
	return shape{kind: kindAny, t: t}
}

// structFields are the JSON fields of a struct type, by exact name.
type structFields struct {
	byName   map[string]field
	byPos    []string // names, in field order
	required []int    // positions of the required fields
}

type field struct {
	typ reflect.Type // nil: any value
	pos int
}

var fieldCache sync.Map // reflect.Type -> *structFields

func fieldsOf(t reflect.Type) *structFields {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.(*structFields)
	}
	visible := JSONFields(t)
	fs := &structFields{byName: make(map[string]field, len(visible))}
	for _, jf := range visible {
		f := field{typ: jf.Field.Type, pos: len(fs.byPos)}
		if jf.HasOption("string") {
			f.typ = nil // a number or bool quoted as a string: encoding/json checks it
		}
		if jf.Field.Tag.Get(requiredTag) == "true" {
			fs.required = append(fs.required, f.pos)
		}
		fs.byName[jf.Name] = f
		fs.byPos = append(fs.byPos, jf.Name)
	}
	actual, _ := fieldCache.LoadOrStore(t, fs)
	return actual.(*structFields)
}

// JSONField is one field that encoding/json reads and writes for a struct
// type.
type JSONField struct {
	Name  string              // its JSON name
	Field reflect.StructField // the field, as its struct declares it
	Owner reflect.Type        // the struct type that declares it: t, or a struct embedded in it
}

// HasOption reports whether the field's json tag has the option (omitempty,
// omitzero, string).
func (f JSONField) HasOption(want string) bool {
	_, opts, _ := strings.Cut(f.Field.Tag.Get("json"), ",")
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == want {
			return true
		}
	}
	return false
}

// JSONFields lists the fields encoding/json reads and writes for struct t,
// in field order, with the fields of embedded structs promoted by its rules:
// the shallowest field of a name wins, then a tagged one; two of the same
// depth and tagging hide each other. The decoder (checkStrict) and the
// OpenAPI schemas (internal/platform/apidoc) both read bodies this way.
func JSONFields(t reflect.Type) []JSONField {
	type found struct {
		f      JSONField
		depth  int
		tagged bool
		clash  bool
	}
	byName := map[string]*found{}
	var order []string
	var walk func(t reflect.Type, depth int)
	walk = func(t reflect.Type, depth int) {
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if sf.Anonymous && name == "" {
				et := sf.Type
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if et.Kind() == reflect.Struct { // promoted fields, as encoding/json does
					walk(et, depth+1)
					continue
				}
			}
			if !sf.IsExported() {
				continue
			}
			tagged := name != ""
			if !tagged {
				name = sf.Name
			}
			f := JSONField{Name: name, Field: sf, Owner: t}
			prev, ok := byName[name]
			switch {
			case !ok:
				byName[name] = &found{f: f, depth: depth, tagged: tagged}
				order = append(order, name)
			case depth < prev.depth || depth == prev.depth && tagged && !prev.tagged:
				*prev = found{f: f, depth: depth, tagged: tagged}
			case depth == prev.depth && tagged == prev.tagged:
				prev.clash = true // encoding/json ignores both
			}
		}
	}
	walk(t, 0)
	var out []JSONField
	for _, name := range order {
		if c := byName[name]; !c.clash {
			out = append(out, c.f)
		}
	}
	return out
}
