package wire

import (
	"context"
	"time"
)

// The usage ledger is written off the request path, by a flusher that the
// process owns (tenantapi.Handler.RunUsageFlusher): on its timer while the
// process runs, and once more when it ends.
const (
	// LedgerFlushEvery is how often a process writes its usage totals (and
	// at the end of each hour with changes).
	LedgerFlushEvery = time.Minute
	// LedgerCheckEvery is how often the flusher looks whether a flush is
	// due: a request reaches the ledger at most LedgerFlushEvery +
	// LedgerCheckEvery + metering.FlushTimeout after it, with no later
	// request needed, while the process runs.
	LedgerCheckEvery = 10 * time.Second
	// ShutdownFlushTimeout bounds the flush of a Lambda environment that is
	// being shut down (SIGTERM): Lambda sends SIGKILL about 500 ms after
	// SIGTERM to a runtime with an internal extension, which is what
	// aws-lambda-go's WithEnableSIGTERM registers to get SIGTERM at all.
	ShutdownFlushTimeout = 400 * time.Millisecond
)

// APIOption configures NewAPI.
type APIOption func(*apiOptions)

type apiOptions struct{ flushEvery, checkEvery time.Duration }

// WithLedgerFlush sets the usage flush interval and how often the flusher
// looks (tests; the defaults are LedgerFlushEvery and LedgerCheckEvery).
func WithLedgerFlush(every, check time.Duration) APIOption {
	return func(o *apiOptions) { o.flushEvery, o.checkEvery = every, check }
}

// RunUsageFlusher writes the handler's usage totals to the ledger whenever
// they are due, until ctx ends, then once more (within
// metering.FlushTimeout). Every process that serves the handler runs it
// beside it: the local gateway for its whole life, the api function from its
// cold start (its timer runs only while Lambda lets the environment run;
// FlushUsageAtShutdown covers the rest).
func (a *API) RunUsageFlusher(ctx context.Context) {
	a.Handler.RunUsageFlusher(ctx, a.usageCheck)
}

// FlushUsageAtShutdown writes the pending usage totals within
// ShutdownFlushTimeout: the api function's SIGTERM hook.
func (a *API) FlushUsageAtShutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownFlushTimeout)
	defer cancel()
	return a.Handler.FlushUsage(ctx)
}
