// Package plan owns what each tier's plan allows: the request rate, burst
// and monthly quota that API Gateway usage plans (infra) and the local
// gateway both enforce, and the concurrency of the tier's export queue. It is
// the one place these numbers are written down.
package plan
