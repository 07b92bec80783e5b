// Package apikey owns each tenant's API Gateway API key: one key per tenant,
// named for the stage and the tenant, bound to exactly one usage plan (its
// tier's), rebound when the tier changes and deleted at offboarding. Usage
// plans throttle and count per key, so a key of its own is what makes a
// tenant's rate limit and monthly quota its own.
package apikey
