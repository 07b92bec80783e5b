// Package leaky talks to DynamoDB and uses tenant key material outside the
// store and crypto (planted: dynamodb-only-in-store, kms-only-in-crypto).
package leaky

import (
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	keys "github.com/aws/aws-sdk-go-v2/service/kms"
)

var (
	_ *ddb.Client
	_ = keys.GenerateDataKeyInput{}
)
