// Package idtoken owns the verification of Cognito user pool ID tokens, done
// the way API Gateway's Cognito user pool authorizer does it for a REST API:
// an RS256 signature by a key of the pool's JWKS (fetched lazily, cached,
// refetched on an unknown kid at most once per 30 s), the pool's issuer, the
// app client as audience, token_use "id" and an unexpired token. Verify
// returns the claims flattened to strings as a Cognito authorizer puts them
// in requestContext.authorizer.claims. Cache is the one cache of verified
// tokens (by SHA-256, until exp or 5 minutes) that the tenant authorizer,
// the api and tenants functions (which verify every request's token
// themselves) and the local gateway share. Login signs a user in with
// USER_PASSWORD_AUTH and returns the ID token, for the CLI and tests.
//
// Locally, moto signs every user pool's tokens with one static key whose
// private half is public, so there the issuer and audience checks, not the
// signature, are what keep a token to its pool and app client.
//
// See https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html
package idtoken
