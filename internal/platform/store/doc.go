// Package store owns every DynamoDB access of the app: it is the only package
// that builds keys. Tenant data lives under partition keys "<tenantId>#<ENTITY>"
// with the entity id as sort key, in the table the tenant's placement names
// (the pooled table or the tenant's dedicated one), and every call runs with
// the tenant's own scoped credentials. The tenant always comes from the
// context, never from a caller-supplied key; no exported function takes a raw
// key or scans a table. Sensitive order fields are sealed with internal/platform/crypto
// before they are written.
//
// See https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html
package store
