// Package authorizer is the tenant routes' Lambda REQUEST authorizer
// (functions/authorizer). It verifies the caller's Cognito ID token
// (internal/platform/idtoken, through its cache of verified tokens), reads
// the tenant's catalog record, and answers API Gateway with a policy for the
// whole API stage, the user's sub as principal, the claims the handlers need
// as context, and the tenant's own API key as the usageIdentifierKey. With
// the API's apiKeySource set to AUTHORIZER, that key — never one a client
// sends in x-api-key — decides which usage plan counts the request, so
// throttling and quotas follow the verified tenant.
//
// Answers: no or an invalid token is the error "Unauthorized" (API Gateway's
// 401); a valid token of a user of no tenant is Unauthorized too (the token
// proves no tenant); a valid token whose tenant is unknown, not ACTIVE, or
// has no API key yet gets a Deny policy (403 forbidden), so such requests
// are refused before they reach a function or count against any plan. API
// Gateway caches the answer (Allow and Deny) per Authorization header for
// the authorizer's TTL (300 s): a suspension can take that long to reach the
// gateway, and the handlers, which check the tenant's status themselves on
// every request, refuse it meanwhile.
//
// See https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-output.html
package authorizer
