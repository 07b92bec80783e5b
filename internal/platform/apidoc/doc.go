// Package apidoc builds the OpenAPI 3.1 document of Tessera's HTTP API from
// one source: the route table (internal/platform/route) for methods, paths,
// operation ids and who may call each route, and each route's Operation
// contract, which names the Go types it decodes and answers and the error
// codes it can return. Schemas are read from those Go types by reflection,
// the way encoding/json writes them and edge.DecodeJSON reads them (json
// tags, `required:"true"`, omitempty, pointers, integer or number), so a
// field that changes changes the document.
//
// The handlers declare their contracts beside their code (tenantapi and
// operatorapi); internal/wire/openapi puts them together into api/openapi.json.
//
// See https://spec.openapis.org/oas/v3.1.0
package apidoc
