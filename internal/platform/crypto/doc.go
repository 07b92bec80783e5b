// Package crypto owns envelope encryption of sensitive fields under each
// tenant's own KMS key. A data key from GenerateDataKey (encryption context
// tenantId=<id>) seals the value with AES-256-GCM; the sealed value carries
// the data key encrypted by KMS, and its associated data binds the tenant,
// table, partition key, sort key and attribute name, so a value copied into
// another item, attribute or tenant fails with ErrIntegrity. Data keys are
// cached per process (in a memo.Cache) with a bounded age, use count and
// size, so KMS is not called per request; disabling or deleting the tenant
// key (package tenantkey) makes every sealed value unreadable once cached
// keys age out.
//
// Sealed format, version 1:
//
//	0x01 | len(edk) uint16 BE | edk | nonce (12) | ciphertext | tag (16)
//
// Associated data: the header (0x01 | len(edk) | edk), then TenantID, Table,
// PK, SK and Attribute, each preceded by its length as uint32 BE.
//
// See https://docs.aws.amazon.com/kms/latest/developerguide/kms-cryptography.html#enveloping
package crypto
