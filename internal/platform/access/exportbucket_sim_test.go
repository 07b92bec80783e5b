package access_test

import (
	"encoding/json"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/access/iamsim"
)

// TestSimExportBucketDeniesUploadsWithoutTenantKey evaluates tenant ab's
// session (TenantDataAccessRole's policy) writing its own export object,
// with the export bucket's policy as the resource policy: only SSE-KMS with
// a key ARN of this account and Region is accepted, which is how the export
// worker writes (internal/app/exporter: PutObject and CreateMultipartUpload
// with ServerSideEncryption aws:kms and the tenant key's ARN).
func TestSimExportBucketDeniesUploadsWithoutTenantKey(t *testing.T) {
	bucketPolicy := access.ExportBucketPolicy(exportBucketARN, "aws", "us-east-1", simAccount).JSON()
	object := exportBucketARN + "/ab/exports/01J.jsonl"
	sse := func(alg, key string) map[string]any {
		ctx := tenant("ab", nil)
		if alg != "" {
			ctx["s3:x-amz-server-side-encryption"] = alg
		}
		if key != "" {
			ctx["s3:x-amz-server-side-encryption-aws-kms-key-id"] = key
		}
		return ctx
	}
	cases := []struct {
		name string
		ctx  map[string]any
		want string
	}{
		{"tenant-key", sse("aws:kms", keyABARN), iamsim.Allowed},
		{"no-encryption-headers", sse("", ""), iamsim.ExplicitlyDenied},
		{"sse-s3", sse("AES256", ""), iamsim.ExplicitlyDenied},
		{"kms-without-key-id", sse("aws:kms", ""), iamsim.ExplicitlyDenied}, // S3 would use aws/s3
		{"kms-alias", sse("aws:kms", "arn:aws:kms:us-east-1:"+simAccount+":alias/aws/s3"), iamsim.ExplicitlyDenied},
		{"kms-key-id-not-arn", sse("aws:kms", "1111aaaa-0000-0000-0000-0000000000ab"), iamsim.ExplicitlyDenied},
		{"kms-key-of-other-account", sse("aws:kms", "arn:aws:kms:us-east-1:999999999999:key/1111aaaa-0000-0000-0000-0000000000ab"), iamsim.ExplicitlyDenied},
		{"kms-key-of-other-region", sse("aws:kms", "arn:aws:kms:eu-west-1:"+simAccount+":key/1111aaaa-0000-0000-0000-0000000000ab"), iamsim.ExplicitlyDenied},
		{"key-id-without-kms", sse("AES256", keyABARN), iamsim.ExplicitlyDenied},
	}
	var reqs []iamsim.Request
	var want []string
	for _, c := range cases {
		reqs = append(reqs, iamsim.Request{Name: c.name, IdentityPolicies: []json.RawMessage{access.DataAccessPolicy(simResources).JSON()},
			ResourcePolicy: bucketPolicy, Principal: sessionARN, Action: "s3:PutObject", Resource: object,
			AccountID: simAccount, Context: c.ctx})
		want = append(want, c.want)
	}
	results, err := iamsim.Run(iamsim.Script(t), reqs)
	if err != nil {
		t.Fatal(err)
	}
	iamsim.Check(t, reqs, results, want)
}
