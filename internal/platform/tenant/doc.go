// Package tenant owns the identity of the caller: which tenant, which user
// and which role. Authenticate and AuthenticateOperator read it from the
// Cognito ID token in the request's Authorization header, verified by the
// handler itself (internal/platform/idtoken, through its cache of verified
// tokens), never from requestContext.authorizer, the path, the query or the
// body: anyone allowed to invoke a function directly can write an event's
// authorizer context, nobody can sign a token of the user pool. The result
// travels in context.Context to every layer.
//
// See https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html
package tenant
