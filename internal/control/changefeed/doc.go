// Package changefeed is the tenant change feed: it consumes the DynamoDB
// streams of the pooled table and of every dedicated table, and appends each
// tenant's changes to that tenant's change log in the backup bucket.
//
// Each change is routed by the tenant prefix of its partition key
// ("<tenantId>#..."). A tenant's records of one batch become one object,
// "<tenantId>/changes/<hour>/<table>-<first>-<last>.jsonl", one JSON line
// per change (the DynamoDB JSON of keys and images, as the stream carried
// them: sealed fields stay sealed). Every object is written with that
// tenant's scoped credentials (its TenantDataAccessRole session, which may
// write only under "<tenantId>/") and encrypted with SSE-KMS under the
// tenant's own key, so that deleting the key at offboarding shreds the log.
//
// Appends are idempotent: the object key is a function of the records it
// holds, and it is written only if absent (If-None-Match), so a redelivered
// batch writes nothing twice. A retried partial batch may carry a tenant's
// records again under another range; readers (Read) drop repeated sequence
// numbers.
//
// A failure to log a tenant's changes reports the earliest of its records
// as the batch item failure, so that the event source retries from there
// (with bisection on error); the records before it are checkpointed. The
// feed's lag, from a change's creation time to its being logged, is an EMF
// metric (ChangeFeedLag).
package changefeed
