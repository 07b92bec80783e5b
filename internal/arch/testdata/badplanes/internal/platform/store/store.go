// Package store may import the DynamoDB client.
package store

import "github.com/aws/aws-sdk-go-v2/service/dynamodb"

var _ *dynamodb.Client
