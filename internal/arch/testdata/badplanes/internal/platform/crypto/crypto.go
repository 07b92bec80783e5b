// Package crypto may use KMS data operations.
package crypto

import "github.com/aws/aws-sdk-go-v2/service/kms"

var _ = kms.DecryptInput{}
