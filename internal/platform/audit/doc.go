// Package audit owns the request side of the tenants' audit trails: the
// entry (Entry, which the store persists in the catalog table under
// AUDIT#<tenant>), the recorder one state-changing request carries in its
// context, and the one hook both APIs run after a route's endpoint
// (Begin, then Recorder.Finish once the response is known).
//
// The hook is driven by the route table (internal/platform/route): every
// route whose method is not GET or HEAD is audited, so a new write route is
// audited without code of its own. A request leaves exactly one entry when
// it answered below 400, or when it failed after it had changed something:
// the store marks the recorder after every write that succeeded (Mark), so
// a 4xx that wrote nothing leaves none. A request whose entry was written in
// the transaction of its own change (the operator API's lifecycle changes,
// through store.Catalog: Stamp, then Committed) is not audited again.
//
// Entries are immutable (IAM denies updates and deletes of AUDIT# items to
// every role; see internal/platform/access) and expire with the retention
// of the tenant's tier (plan.Limits.AuditRetentionDays) through the catalog
// table's TTL: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/TTL.html
package audit
