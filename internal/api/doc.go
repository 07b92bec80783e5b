// Package api owns the tenant app's HTTP surface as a Lambda handler for API
// Gateway REST proxy events: routing from the shared route table, the tenant
// edge (claims -> tenant -> catalog record, into the context), JSON decoding
// with strict limits, and the one place where errors become HTTP statuses
// and stable error codes.
//
// See https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
package api
