// Package catalog owns the tenant record: tier, lifecycle status and
// placement (which table holds the tenant's data and which KMS key protects
// it), with a bounded in-memory cache so the request path reads DynamoDB at
// most once per tenant per TTL. The record is persisted by internal/platform/store.
package catalog
