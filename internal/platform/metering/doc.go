// Package metering owns per-request usage. Every API request emits one
// CloudWatch Embedded Metric Format line (namespace Tessera) to stdout, with
// no AWS call: tenant, tier, route template, status class, latency and the
// DynamoDB capacity the request consumed. Dimension sets are chosen per tier
// (Config), because a per-tenant dimension costs a custom metric per tenant;
// TenantId is on every line as a plain property for Logs Insights (the tests
// check lines against the specification with package emftest). The
// Aggregator keeps the process's cumulative totals per tenant and UTC hour
// for the usage ledger, and a Flusher, which the process owns, writes them
// off the request path: on a timer, and when the process ends, every flush
// with a deadline.
//
// EMF: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
package metering
