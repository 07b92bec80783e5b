// Package apievent is the one helper handler tests use to build API Gateway
// REST proxy events from the samples in events/ and to read the handlers'
// responses: the tenant app API's, the operator API's and the exporter's
// tests all build their requests here. The handlers verify the caller's ID
// token themselves, so Do gives each event a real token of the local user
// pool for the identity the event names (see Do). It is test support of the
// local stack, never linked into a Lambda binary.
package apievent
