// Package outbox owns the reliable publication of control-plane events: an
// event is written to the catalog in the same DynamoDB transaction as the
// state change it announces, published to EventBridge right after, and
// deleted once published. A sweep (scheduled in AWS, periodic locally)
// republishes what a crash left behind, so no state change is ever
// announced zero times; consumers are idempotent, so twice is harmless.
// Event refuses a detail that breaks its type's contract (bus.Validate), so
// no event that a consumer's bus.Parse would refuse is written or published.
//
// See https://docs.aws.amazon.com/prescriptive-guidance/latest/cloud-design-patterns/transactional-outbox.html
package outbox
