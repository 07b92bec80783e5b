// Package bus owns the contracts of Tessera's control-plane events: the
// detail types, the Detail every event carries (tenant id, tier, correlation
// id, schema version), the envelope a rule target such as an SQS queue
// receives, Validate for producers and a strict Parse for consumers. Events
// are published by package outbox, whose Event validates each one before it
// is written.
//
// The same contracts are written down as JSON Schemas (draft 2020-12) in
// events/schemas/<DetailType>.schema.json, with one sample envelope per
// detail type in events/tenant-<kebab-name>.json; the tests keep code,
// schemas and samples in step.
//
// See https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html
package bus
