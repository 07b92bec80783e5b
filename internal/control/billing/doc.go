// Package billing owns usage reporting to the payment provider: each ended
// hour of a tenant's requests (the usage ledger's hourly totals) becomes one
// meter event, sent through a Reporter, and a conditionally written ledger
// mark records that the hour was reported. The Stripe implementation sends
// Stripe billing meter events (https://docs.stripe.com/billing/subscriptions/usage-based/recording-usage);
// the same Job also takes each tenant's daily storage sample, which invoices
// average (internal/platform/invoice).
//
// Nothing is counted twice: the event's identifier is a hash of tenant,
// meter and hour, so a report retried after a crash between the send and
// the mark carries the same identifier, which Stripe deduplicates (within
// its rolling window of at least 24 hours); and an hour with a mark is
// never sent again.
package billing
