// Package streampump plays, on the local stack, the part of Lambda's event
// source mapping for DynamoDB streams: it reads the streams of the tables it
// is given (the pooled table, and every dedicated table of the stage) shard
// by shard with GetRecords, hands each batch to a stream handler as an
// events.DynamoDBEvent, and moves each shard's checkpoint past what the
// handler accepted. A reported batch item failure is retried from that
// record on the next round, as Lambda retries from it; the records before
// it stay checkpointed. The emulators cannot run Lambda functions, so the
// handler is called in process (see ../shared/EMULATORS.md).
package streampump
