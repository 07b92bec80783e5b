// Package throttle is the local stand-in for API Gateway usage plans: a
// token bucket (rate and burst) and a calendar-month request quota per
// tenant, with the numbers of internal/platform/plan. The local gateway asks it before
// invoking a handler; in AWS the usage plan bound to the tenant's API key
// does the same work.
package throttle
