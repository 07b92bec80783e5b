package apidoc

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/route"
)

// Contract is what one handler declares about its routes: their
// operations, by route name, and refinements of the schemas read from its Go
// types: constraints on fields, the values of string types (Enums), and
// component names (catalog.Record is "Tenant").
type Contract struct {
	Operations map[string]Operation
	Fields     Fields
	Enums      map[reflect.Type][]string
	Names      map[reflect.Type]string
}

// NewContract returns an empty contract.
func NewContract() Contract {
	return Contract{Operations: map[string]Operation{}, Fields: Fields{}, Enums: map[reflect.Type][]string{}, Names: map[reflect.Type]string{}}
}

// Merge joins contracts; two that declare the same route, field, enum or
// name differently are an error.
func Merge(cs ...Contract) (Contract, error) {
	out := NewContract()
	for _, c := range cs {
		for k, v := range c.Operations {
			if _, dup := out.Operations[k]; dup {
				return out, fmt.Errorf("apidoc: two contracts for route %s", k)
			}
			out.Operations[k] = v
		}
		for t, byName := range c.Fields {
			for name, cons := range byName {
				if _, dup := out.Fields[t][name]; dup {
					return out, fmt.Errorf("apidoc: two contracts constrain %s.%s", t, name)
				}
				if out.Fields[t] == nil {
					out.Fields[t] = map[string][]Constraint{}
				}
				out.Fields[t][name] = cons
			}
		}
		for t, vs := range c.Enums {
			if prev, dup := out.Enums[t]; dup && !slices.Equal(prev, vs) {
				return out, fmt.Errorf("apidoc: two contracts give %s different values", t)
			}
			out.Enums[t] = vs
		}
		for t, n := range c.Names {
			if prev, dup := out.Names[t]; dup && prev != n {
				return out, fmt.Errorf("apidoc: two contracts name %s", t)
			}
			out.Names[t] = n
		}
	}
	return out, nil
}

// Spec is everything the document is made of.
type Spec struct {
	Title, Version, Description string
	// Routes is the route table (route.All): every route needs exactly
	// one operation in Contract.
	Routes []route.Route
	Contract
}

// Security schemes of the document, by audience.
const (
	SchemeTenant   = "tenantIdToken"
	SchemeOperator = "operatorIdToken"
)

// Tags of the operations: one per audience, so that tools (and the fuzz
// runs) can pick the tenant or the operator routes.
var audienceTags = map[route.Audience]string{
	route.TenantUser: "tenant",
	route.Operator:   "operator",
	route.Public:     "public",
}

// Common are the failures every route of an audience can answer before or
// around its own work: the gateway's and the edge's (token, tenant, limits),
// and the internal error.
func Common(a route.Audience) []Failure {
	fs := []Failure{Fail(http.StatusInternalServerError, edge.CodeInternal)}
	switch a {
	case route.TenantUser:
		fs = append(fs,
			Fail(http.StatusUnauthorized, edge.CodeUnauthenticated),
			// forbidden: the tenant authorizer's Deny or a member on an
			// admin's route; invalid_api_key: no usable key (gateway).
			Fail(http.StatusForbidden, edge.CodeForbidden, edge.CodeTenantUnknown, edge.CodeTenantSuspended, CodeInvalidAPIKey),
			FailRetry(http.StatusTooManyRequests, edge.CodeRateLimited, edge.CodeQuotaExceeded))
	case route.Operator:
		fs = append(fs,
			Fail(http.StatusUnauthorized, edge.CodeUnauthenticated),
			Fail(http.StatusForbidden, edge.CodeForbidden),
			FailRetry(http.StatusTooManyRequests, edge.CodeRateLimited)) // the stage's limit
	case route.Public:
		fs = append(fs, FailRetry(http.StatusTooManyRequests, edge.CodeRateLimited))
	}
	return fs
}

// Codes the gateways answer (internal/local/gateway, infra's gateway
// responses) that no handler does.
const (
	CodeInvalidAPIKey = "invalid_api_key"
	// CodeInvalidPath: a path parameter that is not validly %-escaped.
	CodeInvalidPath = "invalid_path"
)

// Build returns the OpenAPI document of spec, as indented JSON.
func Build(spec Spec) ([]byte, error) {
	names := map[reflect.Type]string{reflect.TypeFor[edge.ErrorBody](): "Error"}
	for t, n := range spec.Names {
		names[t] = n
	}
	g := newGenerator(spec.Fields, spec.Enums, names)
	errorRef := g.schemaOf(reflect.TypeFor[edge.ErrorBody](), response)
	d := document{
		OpenAPI: "3.1.0",
		Info:    info{Title: spec.Title, Version: spec.Version, Description: spec.Description},
		Paths:   map[string]map[string]*operation{},
	}
	byName := map[string]route.Route{}
	for _, r := range spec.Routes {
		byName[r.Name] = r
	}
	for name := range spec.Operations {
		if _, ok := byName[name]; !ok {
			return nil, fmt.Errorf("apidoc: contract %s names no route", name)
		}
	}
	usedTags := map[string]bool{}
	for _, r := range spec.Routes {
		op, ok := spec.Operations[r.Name]
		if !ok {
			return nil, fmt.Errorf("apidoc: route %s (%s) has no contract", r.Name, r.Key())
		}
		o, err := buildOperation(g, r, op, errorRef, byName)
		if err != nil {
			return nil, err
		}
		usedTags[o.Tags[0]] = true
		if d.Paths[r.Path] == nil {
			d.Paths[r.Path] = map[string]*operation{}
		}
		d.Paths[r.Path][strings.ToLower(r.Method)] = o
	}
	for _, a := range []route.Audience{route.TenantUser, route.Operator, route.Public} {
		if usedTags[audienceTags[a]] {
			d.Tags = append(d.Tags, tag{Name: audienceTags[a], Description: tagDescriptions[a]})
		}
	}
	schemas, err := g.finish()
	if err != nil {
		return nil, err
	}
	d.Components = components{Schemas: schemas, SecuritySchemes: securitySchemes}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("apidoc: %w", err)
	}
	return append(b, '\n'), nil
}

var tagDescriptions = map[route.Audience]string{
	route.TenantUser: "A tenant's users: the tenant is the one in the caller's ID token, never one from the path, query or body.",
	route.Operator:   "Operators (members of the user pool's operators group): tenant management.",
	route.Public:     "No authentication.",
}

var securitySchemes = map[string]securityScheme{
	SchemeTenant: {Type: "apiKey", In: "header", Name: "Authorization",
		Description: "A tenant user's Cognito ID token (the raw token, or \"Bearer <token>\"). API Gateway's tenant authorizer verifies it and applies the tenant's usage plan; the function verifies it again."},
	SchemeOperator: {Type: "apiKey", In: "header", Name: "Authorization",
		Description: "An operator's Cognito ID token (the raw token, or \"Bearer <token>\"); the function checks the operators group in the verified token."},
}

func buildOperation(g *generator, r route.Route, op Operation, errorRef *Schema, routes map[string]route.Route) (*operation, error) {
	o := &operation{OperationID: r.Name, Summary: op.Summary, Description: op.Description,
		Tags: []string{audienceTags[r.Audience]}, Responses: map[string]*responseObject{}}
	if o.Tags[0] == "" {
		return nil, fmt.Errorf("apidoc: route %s: unknown audience %q", r.Name, r.Audience)
	}
	switch r.Audience {
	case route.TenantUser:
		o.Security = []map[string][]string{{SchemeTenant: {}}}
	case route.Operator:
		o.Security = []map[string][]string{{SchemeOperator: {}}}
	}
	failures := slices.Clone(op.Errors)
	failures = append(failures, Common(r.Audience)...)
	for _, name := range pathParams(r.Path) {
		s, ok := op.PathParams[name]
		if !ok {
			return nil, fmt.Errorf("apidoc: route %s: no schema for path parameter {%s}", r.Name, name)
		}
		o.Parameters = append(o.Parameters, parameter{Name: name, In: "path", Required: true, Schema: s})
	}
	if len(pathParams(r.Path)) > 0 {
		failures = append(failures, Fail(http.StatusBadRequest, CodeInvalidPath))
	}
	for name := range op.PathParams {
		if !slices.Contains(pathParams(r.Path), name) {
			return nil, fmt.Errorf("apidoc: route %s: path parameter {%s} is not in %s", r.Name, name, r.Path)
		}
	}
	for _, p := range op.Params {
		if p.In != "query" && p.In != "header" {
			return nil, fmt.Errorf("apidoc: route %s: parameter %s in %q", r.Name, p.Name, p.In)
		}
		o.Parameters = append(o.Parameters, parameter{Name: p.Name, In: p.In, Description: p.Description, Required: p.Required, Schema: p.Schema})
	}
	if op.Body != nil {
		o.RequestBody = &requestBody{Required: !op.BodyOptional, Content: map[string]mediaType{
			"application/json": {Schema: g.schemaOf(reflect.TypeOf(op.Body), request)}}}
	}
	for _, resp := range op.Responses {
		key := statusKey(resp.Status)
		if _, dup := o.Responses[key]; dup {
			return nil, fmt.Errorf("apidoc: route %s: two responses %d", r.Name, resp.Status)
		}
		ro := &responseObject{Description: resp.Description}
		switch {
		case resp.Raw != nil:
			ro.Content = map[string]mediaType{"application/json": {Schema: resp.Raw}}
		case resp.Body != nil:
			ro.Content = map[string]mediaType{"application/json": {Schema: g.schemaOf(reflect.TypeOf(resp.Body), response)}}
		}
		for _, l := range resp.Links {
			if _, ok := routes[l.Operation]; !ok {
				return nil, fmt.Errorf("apidoc: route %s: link %s to unknown operation %s", r.Name, l.Name, l.Operation)
			}
			if ro.Links == nil {
				ro.Links = map[string]link{}
			}
			lo := link{OperationID: l.Operation, Parameters: l.Parameters}
			if len(l.Body) > 0 {
				lo.RequestBody = l.Body
			}
			ro.Links[l.Name] = lo
		}
		o.Responses[key] = ro
	}
	for _, f := range mergeFailures(failures) {
		key := statusKey(f.Status)
		if _, dup := o.Responses[key]; dup {
			return nil, fmt.Errorf("apidoc: route %s: status %d is both an answer and an error", r.Name, f.Status)
		}
		enum := make([]any, len(f.Codes))
		for i, c := range f.Codes {
			enum[i] = c
		}
		ro := &responseObject{
			Description: http.StatusText(f.Status) + ": " + strings.Join(f.Codes, ", "),
			Content: map[string]mediaType{"application/json": {Schema: &Schema{AllOf: []*Schema{errorRef, {
				Properties: map[string]*Schema{"error": {Properties: map[string]*Schema{"code": {Enum: enum}}}},
			}}}}},
		}
		if f.RetryAfter {
			ro.Headers = map[string]header{"Retry-After": {
				Description: "seconds to wait before retrying (the local gateway and the handlers send it; API Gateway's own 429s may not)",
				Schema:      &Schema{Type: types("string"), Pattern: "^[0-9]+$"},
			}}
		}
		o.Responses[key] = ro
	}
	return o, nil
}

// mergeFailures puts the codes of one status together, sorted, statuses
// in order.
func mergeFailures(fs []Failure) []Failure {
	byStatus := map[int]*Failure{}
	for _, f := range fs {
		m, ok := byStatus[f.Status]
		if !ok {
			m = &Failure{Status: f.Status}
			byStatus[f.Status] = m
		}
		for _, c := range f.Codes {
			if !slices.Contains(m.Codes, c) {
				m.Codes = append(m.Codes, c)
			}
		}
		m.RetryAfter = m.RetryAfter || f.RetryAfter
	}
	var out []Failure
	for _, m := range byStatus {
		slices.Sort(m.Codes)
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b Failure) int { return a.Status - b.Status })
	return out
}

// pathParams lists the {name}s of a path template, in order.
func pathParams(path string) []string {
	var out []string
	for _, seg := range strings.Split(path, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			out = append(out, seg[1:len(seg)-1])
		}
	}
	return out
}

// The document's objects, in the order OpenAPI lists their fields.
type document struct {
	OpenAPI    string                           `json:"openapi"`
	Info       info                             `json:"info"`
	Tags       []tag                            `json:"tags,omitempty"`
	Paths      map[string]map[string]*operation `json:"paths"`
	Components components                       `json:"components"`
}

type info struct {
	Title       string `json:"title"`
	Version     string `json:"version"`
	Description string `json:"description,omitempty"`
}

type tag struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

type operation struct {
	OperationID string                     `json:"operationId"`
	Summary     string                     `json:"summary,omitempty"`
	Description string                     `json:"description,omitempty"`
	Tags        []string                   `json:"tags"`
	Security    []map[string][]string      `json:"security,omitempty"`
	Parameters  []parameter                `json:"parameters,omitempty"`
	RequestBody *requestBody               `json:"requestBody,omitempty"`
	Responses   map[string]*responseObject `json:"responses"`
}

type parameter struct {
	Name        string  `json:"name"`
	In          string  `json:"in"`
	Description string  `json:"description,omitempty"`
	Required    bool    `json:"required,omitempty"`
	Schema      *Schema `json:"schema"`
}

type requestBody struct {
	Required bool                 `json:"required"`
	Content  map[string]mediaType `json:"content"`
}

type mediaType struct {
	Schema *Schema `json:"schema"`
}

type responseObject struct {
	Description string               `json:"description"`
	Headers     map[string]header    `json:"headers,omitempty"`
	Content     map[string]mediaType `json:"content,omitempty"`
	Links       map[string]link      `json:"links,omitempty"`
}

type header struct {
	Description string  `json:"description,omitempty"`
	Required    bool    `json:"required,omitempty"`
	Schema      *Schema `json:"schema"`
}

type link struct {
	OperationID string            `json:"operationId"`
	Parameters  map[string]string `json:"parameters,omitempty"`
	RequestBody map[string]string `json:"requestBody,omitempty"`
}

type components struct {
	Schemas         map[string]*Schema        `json:"schemas"`
	SecuritySchemes map[string]securityScheme `json:"securitySchemes"`
}

type securityScheme struct {
	Type        string `json:"type"`
	In          string `json:"in"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}
