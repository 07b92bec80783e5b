// Package apifuzz fuzzes the API against its own OpenAPI document
// (api/openapi.json) with schemathesis, on the local stack: the real
// handlers behind the local gateway (authorizer, result cache, usage-plan
// limits) and the provisioner's pump, as `tessera up` runs them. It holds
// tests only: one schemathesis run with a tenant admin's token over the
// tenant routes and one with an operator's token over the operator routes,
// stateful along the document's links, passing only when no answer is a
// 5xx and every answer conforms to the document (status code, content
// type, headers, schema).
//
// schemathesis is pinned in requirements-fuzz.txt and installed into
// .venv-fuzz by `make tools`; without it the test skips, except in CI.
//
// See https://schemathesis.readthedocs.io/
package apifuzz
