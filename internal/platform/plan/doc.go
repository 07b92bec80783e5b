// Package plan owns what each tier's plan allows: the request rate, burst
// and monthly quota that API Gateway usage plans (infra) and the local
// gateway both enforce, the concurrency of the tier's export queue, and how
// many users a tenant may invite per day. It is the one place these numbers
// are written down.
package plan
