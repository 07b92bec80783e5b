// Package arch owns the architecture rules that keep tenant isolation in one
// place, checked by its tests: only internal/platform/store (and the bootstrap) may
// import the DynamoDB client, and only internal/platform/crypto (and the key
// lifecycle in internal/control/tenantkey and bootstrap/provisioning) may call KMS
// data operations. It has no code of its own.
package arch
