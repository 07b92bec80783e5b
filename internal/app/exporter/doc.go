// Package exporter owns the heavy, asynchronous work of exporting a tenant's
// data. The API side (Requester) records a QUEUED export in the tenant's
// partition and puts a message on the queue of the tenant's tier, undoing
// the record when the message cannot be queued. The worker side (Worker, the
// handler of functions/exports) restores the tenant context from the
// message and the catalog, refuses tenants that are not active, takes the
// export with a conditional QUEUED -> RUNNING write (so a redelivered message
// never runs a finished export again), pages through the tenant's products
// and orders with its own scoped credentials and placement, and streams them
// as JSON lines to "<tenantId>/exports/<exportId>.jsonl" in the export
// bucket, encrypted with the tenant's own KMS key.
//
// How many exports run at once is bounded per tier, not here: in AWS by the
// MaximumConcurrency of each tier queue's event source, locally by the
// number of pumps per tier queue (plan.For(tier).ExportConcurrency). The
// worker handles the records of one batch one after the other, so one
// invocation is one export in flight.
//
// See https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html#events-sqs-max-concurrency
package exporter
