// Package tenantkey owns the lifecycle of each tenant's customer managed KMS
// key in the control plane: creating it once (with the tenant's key policy,
// reachable through the alias alias/tessera/<stage>/tenant/<id>, tagged
// tenantId=<id> and stage=<stage>), locating it again by that alias, and
// retiring it at offboarding (disable, then schedule
// deletion), which crypto-shreds every value sealed under it. The data plane
// only ever uses the key; see package crypto.
//
// See https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html#customer-cmk
package tenantkey
