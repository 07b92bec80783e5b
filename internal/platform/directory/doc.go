// Package directory owns tenant users in the Cognito user pool: creating a
// user bound to one tenant (immutable custom:tenantId and custom:role),
// deleting users at offboarding, and setting a password for local
// development. A user can never be moved to another tenant: an existing
// user of another tenant is an error, not an update.
//
// See https://docs.aws.amazon.com/cognito/latest/developerguide/how-to-create-user-accounts.html
package directory
