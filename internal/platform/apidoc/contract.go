package apidoc

import (
	"net/http"
	"reflect"
	"strconv"

	"github.com/tessera-saas/tessera/internal/platform/edge"
)

// Operation is the contract of one route beyond what the route table says:
// what it reads and what it answers. Bodies are given as values of their Go
// types (product.Input{}); only the type is read.
type Operation struct {
	Summary     string
	Description string
	// Body is the request body (nil: none). BodyOptional: an empty body is
	// accepted too.
	Body         any
	BodyOptional bool
	// Params are its query and header parameters; path parameters come
	// from PathParams, one for each {name} of the route's path.
	Params     []Param
	PathParams map[string]*Schema
	// Responses are its answers other than errors.
	Responses []Response
	// Errors are the error codes it can answer, by status; the errors
	// every route of the audience can answer (Common) are added by Build.
	Errors []Failure
}

// Param is a query or header parameter.
type Param struct {
	In          string // "query" or "header"
	Name        string
	Description string
	Required    bool
	Schema      *Schema
}

// Response is one answer that is not an error.
type Response struct {
	Status      int
	Description string
	// Body is the JSON body's Go value (nil: no body). Raw, when set, is
	// its schema instead.
	Body  any
	Raw   *Schema
	Links []Link
}

// Link says which operation can follow a response, and with which of its
// values: Parameters maps "path.id" to a runtime expression such as
// "$response.body#/id"; Body merges fields into the next request's body.
type Link struct {
	Name       string
	Operation  string
	Parameters map[string]string
	Body       map[string]string
}

// Failure is a set of error codes answered with one status, in the one
// error body (edge.ErrorBody).
type Failure struct {
	Status int
	Codes  []string
	// RetryAfter: the answer carries a Retry-After header (seconds).
	RetryAfter bool
}

// Fail is a Failure of status with codes.
func Fail(status int, codes ...string) Failure { return Failure{Status: status, Codes: codes} }

// FailRetry is a Failure of status with codes and a Retry-After header.
func FailRetry(status int, codes ...string) Failure {
	return Failure{Status: status, Codes: codes, RetryAfter: true}
}

// Query parameters of every list (edge.PageRequest).
var PageParams = []Param{
	{In: "query", Name: "limit", Description: "page size; present means valid (an empty limit is 400 invalid_limit)",
		Schema: &Schema{Type: types("integer"), Minimum: ptr(int64(1)), Maximum: ptr(int64(edge.MaxLimit)), Default: edge.DefaultLimit}},
	{In: "query", Name: "cursor", Description: "the nextCursor of the previous page; leave it out for the first page (an empty cursor is 400 invalid_cursor)",
		Schema: &Schema{Type: types("string"), MinLength: ptr(1)}},
}

// PageErrors are the errors of every list.
var PageErrors = []Failure{Fail(http.StatusBadRequest, edge.CodeInvalidLimit, edge.CodeInvalidCursor)}

// BodyErrors are the errors of every route that decodes a JSON body
// (edge.DecodeJSON): the strict decoder's and the validation's.
var BodyErrors = []Failure{
	Fail(http.StatusBadRequest, edge.CodeMalformedJSON, edge.CodeInvalidType, edge.CodeUnknownField, edge.CodeDuplicateField, edge.CodeValidation),
	Fail(http.StatusRequestEntityTooLarge, edge.CodeBodyTooLarge),
	Fail(http.StatusUnsupportedMediaType, edge.CodeUnsupportedMedia),
}

// Join concatenates lists of failures.
func Join(fs ...[]Failure) []Failure {
	var out []Failure
	for _, f := range fs {
		out = append(out, f...)
	}
	return out
}

// StringSchema is a string schema with a pattern ("" for none) and a
// length range (max 0: unbounded).
func StringSchema(pattern string, minLen, maxLen int) *Schema {
	s := &Schema{Type: types("string"), Pattern: pattern}
	if minLen > 0 {
		s.MinLength = ptr(minLen)
	}
	if maxLen > 0 {
		s.MaxLength = ptr(maxLen)
	}
	return s
}

// Constraint narrows the schema of one field of a Go type.
type Constraint func(*Schema)

// MaxLength bounds a string's length in characters.
func MaxLength(n int) Constraint { return func(s *Schema) { s.MaxLength = ptr(n) } }

// MinLength is a string's least length in characters.
func MinLength(n int) Constraint { return func(s *Schema) { s.MinLength = ptr(n) } }

// Pattern is a regular expression a string matches (ECMA-262, unanchored).
func Pattern(p string) Constraint { return func(s *Schema) { s.Pattern = p } }

// Range bounds an integer.
func Range(lo, hi int64) Constraint {
	return func(s *Schema) { s.Minimum, s.Maximum = ptr(lo), ptr(hi) }
}

// Format names a string's format (email, date-time).
func Format(f string) Constraint { return func(s *Schema) { s.Format = f } }

// Describe sets a field's description.
func Describe(d string) Constraint { return func(s *Schema) { s.Description = d } }

// OneOf lists the values a string may take.
func OneOf[T ~string](vs ...T) Constraint {
	return func(s *Schema) {
		s.Enum = nil
		for _, v := range vs {
			s.Enum = append(s.Enum, string(v))
		}
	}
}

// Fields are constraints on fields of Go types, by JSON field name.
type Fields map[reflect.Type]map[string][]Constraint

// AddField records constraints on the field name of struct type T.
func AddField[T any](f Fields, name string, cs ...Constraint) {
	t := reflect.TypeFor[T]()
	if f[t] == nil {
		f[t] = map[string][]Constraint{}
	}
	f[t][name] = append(f[t][name], cs...)
}

// Enum records the values of a string type (order.Status): every field of
// that type gets them.
func Enum[T ~string](e map[reflect.Type][]string, vs ...T) {
	t := reflect.TypeFor[T]()
	for _, v := range vs {
		e[t] = append(e[t], string(v))
	}
}

// Name names the component of type T.
func Name[T any](names map[reflect.Type]string, name string) { names[reflect.TypeFor[T]()] = name }

func statusKey(status int) string { return strconv.Itoa(status) }

func ptr[T any](v T) *T { return &v }
