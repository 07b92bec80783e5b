package apidoc

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/tessera-saas/tessera/internal/platform/edge"
)

// Schema is a JSON Schema (draft 2020-12, as OpenAPI 3.1 uses it), with the
// keywords this API needs.
type Schema struct {
	Ref                  string             `json:"$ref,omitempty"`
	Type                 Types              `json:"type,omitempty"`
	Format               string             `json:"format,omitempty"`
	ContentEncoding      string             `json:"contentEncoding,omitempty"`
	Description          string             `json:"description,omitempty"`
	Enum                 []any              `json:"enum,omitempty"`
	Pattern              string             `json:"pattern,omitempty"`
	MinLength            *int               `json:"minLength,omitempty"`
	MaxLength            *int               `json:"maxLength,omitempty"`
	Minimum              *int64             `json:"minimum,omitempty"`
	Maximum              *int64             `json:"maximum,omitempty"`
	Default              any                `json:"default,omitempty"`
	Items                *Schema            `json:"items,omitempty"`
	Properties           map[string]*Schema `json:"properties,omitempty"`
	Required             []string           `json:"required,omitempty"`
	AdditionalProperties any                `json:"additionalProperties,omitempty"` // false or *Schema
	AllOf                []*Schema          `json:"allOf,omitempty"`
	AnyOf                []*Schema          `json:"anyOf,omitempty"`

	// ref is the component this schema points to, resolved to Ref when
	// the document is finished.
	ref *variant
}

// Types is a JSON Schema type list; one type is written as a string.
type Types []string

func types(ts ...string) Types { return ts }

// MarshalJSON writes one type as a string, several as an array.
func (t Types) MarshalJSON() ([]byte, error) {
	if len(t) == 1 {
		return json.Marshal(t[0])
	}
	return json.Marshal([]string(t))
}

// direction is which way a type's JSON travels: the rules differ. A request
// body's required fields are those tagged `required:"true"`, and its other
// fields may be null (edge.DecodeJSON leaves them as they are); a
// response's fields are required unless omitempty, and only pointers
// without omitempty can be null.
type direction int

const (
	request direction = iota
	response
)

// variant is the schema of a named Go type in one direction.
type variant struct {
	t      reflect.Type
	dir    direction
	schema *Schema
}

// generator turns Go types into schemas, collecting the named ones as
// components.
type generator struct {
	fields   Fields
	enums    map[reflect.Type][]string
	names    map[reflect.Type]string // overrides
	variants map[reflect.Type]map[direction]*variant
	refs     []*Schema
	used     map[reflect.Type]map[string]bool // constrained fields met
	err      error
}

func newGenerator(fields Fields, enums map[reflect.Type][]string, names map[reflect.Type]string) *generator {
	return &generator{fields: fields, enums: enums, names: names, variants: map[reflect.Type]map[direction]*variant{},
		used: map[reflect.Type]map[string]bool{}}
}

var (
	timeType        = reflect.TypeFor[time.Time]()
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	jsonMarshaler   = reflect.TypeFor[json.Marshaler]()
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textMarshaler   = reflect.TypeFor[encoding.TextMarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func (g *generator) fail(format string, args ...any) *Schema {
	if g.err == nil {
		g.err = fmt.Errorf("apidoc: "+format, args...)
	}
	return &Schema{}
}

// schemaOf is the schema of a value of t travelling in dir.
func (g *generator) schemaOf(t reflect.Type, dir direction) *Schema {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return &Schema{Type: types("string"), Format: "date-time"}
	case t == rawMessageType:
		return &Schema{}
	case implements(t, jsonMarshaler, jsonUnmarshaler):
		return g.fail("%s encodes itself as JSON: give it a schema", t)
	case implements(t, textMarshaler, textUnmarshaler):
		return &Schema{Type: types("string")}
	}
	if vs, ok := g.enums[t]; ok {
		return g.ref(t, dir, func() *Schema {
			s := &Schema{Type: types("string")}
			for _, v := range vs {
				s.Enum = append(s.Enum, v)
			}
			return s
		})
	}
	switch t.Kind() {
	case reflect.String:
		return &Schema{Type: types("string")}
	case reflect.Bool:
		return &Schema{Type: types("boolean")}
	case reflect.Int, reflect.Int64:
		return &Schema{Type: types("integer"), Format: "int64"}
	case reflect.Int8, reflect.Int16, reflect.Int32:
		return &Schema{Type: types("integer"), Format: "int32"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return &Schema{Type: types("integer"), Minimum: ptr(int64(0))}
	case reflect.Float32, reflect.Float64:
		return &Schema{Type: types("number")}
	case reflect.Interface:
		return &Schema{}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return &Schema{Type: types("string"), ContentEncoding: "base64"}
		}
		return &Schema{Type: types("array"), Items: g.schemaOf(t.Elem(), dir)}
	case reflect.Array:
		return &Schema{Type: types("array"), Items: g.schemaOf(t.Elem(), dir)}
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return g.fail("%s: map keys must be strings", t)
		}
		return &Schema{Type: types("object"), AdditionalProperties: g.schemaOf(t.Elem(), dir)}
	case reflect.Struct:
		if t.Name() == "" {
			return g.object(t, dir)
		}
		return g.ref(t, dir, func() *Schema { return g.object(t, dir) })
	}
	return g.fail("no JSON schema for %s", t)
}

func implements(t reflect.Type, ifaces ...reflect.Type) bool {
	for _, i := range ifaces {
		if t.Implements(i) || reflect.PointerTo(t).Implements(i) {
			return true
		}
	}
	return false
}

// ref is a reference to the component of named type t in dir, built once.
func (g *generator) ref(t reflect.Type, dir direction, build func() *Schema) *Schema {
	byDir := g.variants[t]
	if byDir == nil {
		byDir = map[direction]*variant{}
		g.variants[t] = byDir
	}
	v, ok := byDir[dir]
	if !ok {
		v = &variant{t: t, dir: dir}
		byDir[dir] = v // before building: recursive types end here
		v.schema = build()
	}
	s := &Schema{ref: v}
	g.refs = append(g.refs, s)
	return s
}

// object is the schema of the JSON object of struct type t.
func (g *generator) object(t reflect.Type, dir direction) *Schema {
	s := &Schema{Type: types("object"), AdditionalProperties: false, Properties: map[string]*Schema{}}
	for _, f := range jsonFields(t) {
		fs := g.schemaOf(f.typ, dir)
		if f.quoted {
			fs = &Schema{Type: types("string")}
		}
		if cs, ok := g.fields[f.owner][f.name]; ok {
			if g.used[f.owner] == nil {
				g.used[f.owner] = map[string]bool{}
			}
			g.used[f.owner][f.name] = true
			if fs.ref != nil { // a component: constrain this use only
				fs = &Schema{AllOf: []*Schema{fs}}
			}
			for _, c := range cs {
				c(fs)
			}
		}
		required, nullable := f.required, false
		switch dir {
		case request:
			nullable = !required
		case response:
			required = !f.omitEmpty
			nullable = f.typ.Kind() == reflect.Pointer && !f.omitEmpty
		}
		if nullable {
			fs = orNull(fs)
		}
		if required {
			s.Required = append(s.Required, f.name)
		}
		s.Properties[f.name] = fs
	}
	if len(s.Properties) == 0 {
		s.Properties = nil
	}
	return s
}

// orNull widens s to accept null too.
func orNull(s *Schema) *Schema {
	if s.ref != nil || len(s.Type) == 0 {
		if len(s.Type) == 0 && s.ref == nil && s.Enum == nil && len(s.AnyOf) == 0 {
			return s // any value, null included
		}
		return &Schema{AnyOf: []*Schema{s, {Type: types("null")}}}
	}
	c := *s
	c.Type = append(slices.Clone(s.Type), "null")
	if c.Enum != nil {
		c.Enum = append(slices.Clone(c.Enum), nil)
	}
	return &c
}

// jsonField is one field of a struct's JSON object.
type jsonField struct {
	name      string
	typ       reflect.Type
	owner     reflect.Type // the struct type that declares it
	required  bool         // tagged required:"true"
	omitEmpty bool
	quoted    bool // ",string"
}

// jsonFields lists the fields encoding/json reads and writes for struct t,
// embedded structs' fields promoted, in order (edge.JSONFields, which the
// decoder reads bodies with).
func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for _, f := range edge.JSONFields(t) {
		out = append(out, jsonField{name: f.Name, typ: f.Field.Type, owner: f.Owner, required: f.Field.Tag.Get("required") == "true",
			omitEmpty: f.HasOption("omitempty") || f.HasOption("omitzero"), quoted: f.HasOption("string")})
	}
	return out
}

// finish names the components and resolves every reference. A named type
// has one component; when its request and response schemas differ, the
// request one is named <Name>Request.
func (g *generator) finish() (map[string]*Schema, error) {
	if g.err != nil {
		return nil, g.err
	}
	for t, byName := range g.fields {
		for name := range byName {
			if !g.used[t][name] {
				return nil, fmt.Errorf("apidoc: a constraint names field %q of %s, which no schema has", name, t)
			}
		}
	}
	base, err := g.baseNames()
	if err != nil {
		return nil, err
	}
	// shared: the type's two variants are one component. Start with all
	// that have both, and split those that differ until none changes.
	shared := map[reflect.Type]bool{}
	for t, byDir := range g.variants {
		if len(byDir) == 2 {
			shared[t] = true
		}
	}
	name := func(v *variant) string {
		if v.dir == request && !shared[v.t] && len(g.variants[v.t]) == 2 {
			return base[v.t] + "Request"
		}
		return base[v.t]
	}
	resolve := func() {
		for _, s := range g.refs {
			s.Ref = "#/components/schemas/" + name(s.ref)
		}
	}
	for changed := true; changed; {
		changed = false
		resolve()
		for t := range shared {
			a, _ := json.Marshal(g.variants[t][request].schema)
			b, _ := json.Marshal(g.variants[t][response].schema)
			if string(a) != string(b) {
				delete(shared, t)
				changed = true
			}
		}
	}
	out := map[string]*Schema{}
	for _, byDir := range g.variants {
		for _, v := range byDir {
			n := name(v)
			if prev, ok := out[n]; ok && prev != v.schema && !shared[v.t] {
				return nil, fmt.Errorf("apidoc: two schemas named %s", n)
			}
			out[n] = v.schema
		}
	}
	return out, nil
}

// baseNames names each named type's component: its Go name (upper case
// first), a generic's type arguments before it (Page[product.Product] is
// ProductPage), qualified by its package where two types would share a
// name (product.Input is ProductInput); overrides first.
func (g *generator) baseNames() (map[reflect.Type]string, error) {
	plain := map[reflect.Type]string{}
	count := map[string]int{}
	var typesSorted []reflect.Type
	for t := range g.variants {
		typesSorted = append(typesSorted, t)
	}
	slices.SortFunc(typesSorted, func(a, b reflect.Type) int {
		return strings.Compare(a.PkgPath()+"."+a.Name(), b.PkgPath()+"."+b.Name())
	})
	nameOf := func(t reflect.Type, qualify bool) string {
		if n, ok := g.names[t]; ok {
			return n
		}
		n := t.Name()
		base, args, generic := strings.Cut(n, "[")
		if generic {
			var prefix string
			for _, a := range strings.Split(strings.TrimSuffix(args, "]"), ",") {
				prefix += g.argName(strings.TrimSpace(a))
			}
			return prefix + upperFirst(base)
		}
		n = upperFirst(n)
		if qualify {
			pkg := t.PkgPath()[strings.LastIndex(t.PkgPath(), "/")+1:]
			n = upperFirst(pkg) + n
		}
		return n
	}
	for _, t := range typesSorted {
		plain[t] = nameOf(t, false)
		count[plain[t]]++
	}
	out := map[reflect.Type]string{}
	for _, t := range typesSorted {
		n := plain[t]
		if _, over := g.names[t]; !over && count[n] > 1 {
			n = nameOf(t, true)
		}
		out[t] = n
	}
	seen := map[string]reflect.Type{}
	for _, t := range typesSorted {
		if o, dup := seen[out[t]]; dup {
			return nil, fmt.Errorf("apidoc: %s and %s would both be named %s: give one a name", o, t, out[t])
		}
		seen[out[t]] = t
	}
	return out, nil
}

// argName is the component name of a generic's type argument, given as
// reflect writes it ("github.com/.../product.Product").
func (g *generator) argName(arg string) string {
	for t := range g.variants {
		if t.PkgPath()+"."+t.Name() == arg {
			if n, ok := g.names[t]; ok {
				return n
			}
		}
	}
	return upperFirst(arg[strings.LastIndex(arg, ".")+1:])
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}
