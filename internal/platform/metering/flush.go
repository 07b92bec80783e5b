package metering

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Ledger is the durable store of the totals (internal/platform/store.Ledger).
// Record writes writer's cumulative totals and returns those it settled.
type Ledger interface {
	Record(ctx context.Context, writer string, usages []Usage) ([]Usage, error)
}

// FlushTimeout bounds every flush that has no shorter deadline of its own:
// one conditional PutItem per pending (tenant, hour), written concurrently
// by the ledger.
const FlushTimeout = 10 * time.Second

// Flusher writes an Aggregator's pending totals to the ledger, off the
// request path: a process runs Run (a timer) for its whole life and calls
// Flush, with a deadline, when it ends. One flush runs at a time, so
// requests never write nor wait for the ledger.
type Flusher struct {
	agg     *Aggregator
	ledger  Ledger
	writer  string
	log     *slog.Logger
	timeout time.Duration
	// sem holds the one flush in progress.
	sem chan struct{}
}

// NewFlusher returns the flusher of agg's totals to ledger under writer (one
// process, for example a Lambda environment). timeout bounds each flush;
// 0 means FlushTimeout.
func NewFlusher(agg *Aggregator, ledger Ledger, writer string, timeout time.Duration, log *slog.Logger) *Flusher {
	if timeout <= 0 {
		timeout = FlushTimeout
	}
	if log == nil {
		log = slog.Default()
	}
	return &Flusher{agg: agg, ledger: ledger, writer: writer, log: log, timeout: timeout, sem: make(chan struct{}, 1)}
}

// Flush writes every pending total now. It runs for at most the flusher's
// timeout, or until ctx ends if that is sooner: a call that finds a flush in
// progress waits for it within that bound, then writes what is still
// pending. What was not written stays pending for the next flush.
func (f *Flusher) Flush(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	select {
	case f.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("metering: wait for the flush in progress: %w", context.Cause(ctx))
	}
	defer func() { <-f.sem }()
	dirty := f.agg.Dirty()
	if len(dirty) == 0 {
		return nil
	}
	written, err := f.ledger.Record(ctx, f.writer, dirty)
	f.agg.MarkFlushed(written, time.Now())
	if err != nil {
		return fmt.Errorf("metering: flush (%d of %d totals settled): %w", len(written), len(dirty), err)
	}
	return nil
}

// Run flushes whenever the aggregator is due (Aggregator.Due), looking every
// check, until ctx ends; then it flushes what is pending once more, within
// the flusher's timeout, and returns. A failed flush is logged and tried
// again when next due. A request's counts thus reach the ledger at most
// flushEvery + check + timeout after it, with no later request needed.
func (f *Flusher) Run(ctx context.Context, check time.Duration) {
	t := time.NewTicker(check)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := f.Flush(context.WithoutCancel(ctx)); err != nil {
				f.log.Warn("final usage ledger flush failed", "error", err.Error())
			}
			return
		case now := <-t.C:
			if !f.agg.Due(now) {
				continue
			}
			if err := f.Flush(ctx); err != nil && ctx.Err() == nil {
				f.log.Warn("usage ledger flush failed; will retry", "error", err.Error())
			}
		}
	}
}
