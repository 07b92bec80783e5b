// Package edge owns what both HTTP surfaces of Tessera (the tenant app API,
// internal/app/tenantapi, and the operator API, internal/control/operatorapi)
// do the same way at their edge: routing API Gateway REST proxy events on the
// shared route table, strict JSON decoding with size limits, the one mapping
// of errors to HTTP statuses and stable error codes (unexpected errors become
// a generic 500 and are logged), and the one request log line.
//
// See https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
package edge
