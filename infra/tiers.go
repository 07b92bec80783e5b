package main

// Stage-wide throttling, applied to every method before any usage plan. The
// account default is 10,000 requests/s with a burst of 5,000, shared by all
// APIs of the account and Region. The per-tier limits are in internal/platform/plan.
const (
	stageRateLimit  = 1000
	stageBurstLimit = 2000
)
