// Package seed owns the demo tenants of the local stack: it creates a tenant
// (its KMS key, its catalog record with the pooled placement, and its admin
// user in Cognito) idempotently, keyed by the admin's email. It is for local
// development and tests only; production onboarding is event-driven.
package seed
