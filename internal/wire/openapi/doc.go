// Package openapi assembles the OpenAPI 3.1 document of Tessera's API from
// the route table and the contracts of both planes' handlers (tenantapi,
// operatorapi), which only the composition root may import together. The
// document is checked in as api/openapi.json (`go generate ./internal/wire/openapi`,
// or `make openapi`), served at GET /v1/openapi.json, and tested: a route,
// field or error code that changes without the checked-in document fails
// TestCheckedInDocumentIsCurrent.
//
// See https://spec.openapis.org/oas/v3.1.0
package openapi
