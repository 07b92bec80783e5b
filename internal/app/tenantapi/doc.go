// Package tenantapi owns the tenant app's HTTP surface (functions/api): the
// routes of products, orders, users and exports as a Lambda handler for API
// Gateway REST proxy events. Its edge verifies the caller's ID token itself
// (tenant.Authenticate: the Authorization header, never the event's
// authorizer context), turns the verified claims into the caller's tenant,
// reads the tenant's catalog record, and hands every
// endpoint a catalog.Scope and that tenant's store.TenantData, so an
// endpoint cannot reach any other tenant's data. Routing, JSON decoding and
// the mapping of errors to HTTP are internal/platform/edge's, shared with the
// operator API. It also serves the public route, the API's OpenAPI document
// (WithOpenAPI), without a caller; each route's contract for that document
// is in contract.go.
//
// See https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
package tenantapi
