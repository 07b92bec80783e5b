// Package plan owns what each tier's plan allows: the request rate, burst
// and monthly quota that API Gateway usage plans (infra) and the local
// gateway both enforce, the concurrency of the tier's export queue, how
// many users a tenant may invite per day, and how often its tenants are
// backed up and how long their backups are kept, and what the plan costs
// (Price: the fee, included requests, overage and storage prices that
// invoices apply). It is the one place these numbers are written down.
package plan
