// Package gateway owns the local stand-in for API Gateway: it matches the
// request against the shared route table and authorizes it as the CDK app's
// REST API does. Tenant routes go through the Lambda REQUEST authorizer
// (internal/app/authorizer, passed in by the wiring) with its result cache
// keyed on the Authorization header, and the usage-plan limits are counted
// on the usageIdentifierKey the authorizer returns, never on a key a client
// sends. Operator routes go through the Cognito user pool authorizer's
// checks (an idtoken verifier). The public route (route.Public: the API's
// OpenAPI document) needs no token, like a method with authorization NONE.
// The gateway then builds the same proxy event
// (the authorizer's context and principalId, or the Cognito claims, under
// requestContext.authorizer) and invokes the real Lambda handler in process.
//
// See https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-use-lambda-authorizer.html
package gateway
