// Package tenant owns the identity of the caller: which tenant, which user and
// which role, read from the claims that API Gateway's Cognito authorizer (REST
// API) or JWT authorizer (HTTP API) put in the proxy event, never from the
// path, query or body. The result travels in context.Context to every layer.
//
// See https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-integrate-with-cognito.html
package tenant
