package access

import (
	"encoding/base64"
	"encoding/json"
)

// EncryptionContext is the KMS encryption context of everything encrypted
// under a tenant's key: tenantId=<tenant>, which the tenant key's policy
// and TenantDataAccessRole demand (kms:EncryptionContext:tenantId).
func EncryptionContext(tenantID string) map[string]string {
	return map[string]string{TenantTag: tenantID}
}

// ObjectEncryptionContext is EncryptionContext in the form S3 takes it for
// SSE-KMS (x-amz-server-side-encryption-context: base64 of its JSON), for
// objects written under a tenant's key (exports, change logs).
func ObjectEncryptionContext(tenantID string) string {
	b, _ := json.Marshal(EncryptionContext(tenantID)) // a map of strings always marshals
	return base64.StdEncoding.EncodeToString(b)
}
