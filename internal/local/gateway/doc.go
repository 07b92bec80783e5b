// Package gateway owns the local stand-in for API Gateway: it matches the
// request against the shared route table, verifies the Cognito ID token as
// the REST API's Cognito user pool authorizer would, builds the same proxy
// event (with the claims under requestContext.authorizer.claims) and invokes
// the real Lambda handler in process.
//
// See https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-integrate-with-cognito.html
package gateway
