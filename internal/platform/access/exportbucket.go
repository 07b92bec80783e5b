package access

// ExportBucketPolicy is the part of the export bucket's policy that keeps
// objects under the tenants' own keys: every s3:PutObject (single uploads,
// and the multipart upload's start, which carries the encryption headers)
// must ask for SSE-KMS and name a KMS key by its ARN in the bucket's own
// account and Region. Which key is the tenant's is KMS's to enforce: S3
// makes the data key with the caller's credentials, and a tenant session may
// use only its own tenant's key, with its own encryption context
// (DataAccessPolicy, TenantKeyPolicy). The bucket policy adds what IAM on
// the caller cannot: no principal, whatever its own policies, leaves an
// object under S3-managed keys, the account's aws/s3 key, an alias, or a key
// of another account.
//
// Both conditions use negated operators, which hold when the header is
// absent: a request without it is denied too. The key condition compares
// strings, not ARNs, so that a bare key id (which S3 would resolve in the
// requester's account) fails it as well.
func ExportBucketPolicy(bucketARN, partition, region, account string) Policy {
	objects := []string{bucketARN + "/*"}
	anyone := map[string][]string{"AWS": {"*"}}
	return Policy{Version: "2012-10-17", Statement: []Statement{
		{
			Sid: "DenyUploadsWithoutSSEKMS", Effect: "Deny", Principal: anyone,
			Action: []string{"s3:PutObject"}, Resource: objects,
			Condition: map[string]Condition{"StringNotEquals": {"s3:x-amz-server-side-encryption": {"aws:kms"}}},
		},
		{
			Sid: "DenyUploadsWithoutAKeyOfThisAccount", Effect: "Deny", Principal: anyone,
			Action: []string{"s3:PutObject"}, Resource: objects,
			Condition: map[string]Condition{"StringNotLike": {
				"s3:x-amz-server-side-encryption-aws-kms-key-id": {"arn:" + partition + ":kms:" + region + ":" + account + ":key/*"},
			}},
		},
	}}
}
