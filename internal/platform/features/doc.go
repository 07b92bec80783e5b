// Package features owns feature flags and the entitlements built on them,
// behind OpenFeature (https://openfeature.dev): flag definitions (a default,
// a value per tier, a percentage rollout by tenant), the per-tenant
// overrides on each tenant's catalog record, their evaluation, and the
// OpenFeature provider that serves them to the rest of the code.
//
// Definitions are stored in the catalog table (store.Catalog.ListFlags) and
// cached per process for the catalog TTL; overrides are read from the
// tenant's cached catalog record. A warm evaluation makes no AWS call.
// Built-in definitions (Builtins, numbers from internal/platform/plan) make
// a deployment with an empty catalog work; a stored definition of the same
// name replaces its built-in.
//
// The evaluation context of a request is built once, from the verified
// tenant's record (ContextFor), and carried in the request's context with
// openfeature.WithTransactionContext; background jobs build the same one
// from the tenant record their message names.
package features
