// Package pump owns the local stand-in for Lambda's SQS event source
// mapping: it long-polls a queue, hands each batch to a handler as the
// events.SQSEvent Lambda would build, deletes the messages the handler did
// not report in BatchItemFailures, and leaves the failed ones to come back
// after the queue's visibility timeout (and, past the redrive policy's
// maxReceiveCount, to land in the dead-letter queue), as Lambda does.
//
// A handled batch is settled (deleted) with a context of its own, bounded,
// so the end of the run's context between the handler's return and the
// delete does not leave finished messages in flight to be delivered again.
// The pumps of one queue in a process delete one batch at a time: moto's
// SQS loses a delete that overlaps another.
//
// In AWS the event source mapping does this work; nothing in functions/
// imports this package.
//
// See https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
package pump
