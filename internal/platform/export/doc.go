// Package export owns a tenant data export as a domain object: its record
// and lifecycle (QUEUED -> RUNNING -> DONE or FAILED), where its object goes
// in the export bucket (under the tenant's own prefix), the JSON lines the
// object holds, and the message that asks the worker of a tier's queue to
// run it. It knows nothing of HTTP, SQS, S3 or DynamoDB.
//
// See https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html
package export
