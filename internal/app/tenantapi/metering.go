package tenantapi

import (
	"context"
	"log/slog"
	"time"

	"github.com/tessera-saas/tessera/internal/platform/metering"
)

// Ledger stores per-tenant hourly usage (internal/platform/store.Ledger).
type Ledger interface {
	Record(ctx context.Context, writer string, usages []metering.Usage) ([]metering.Usage, error)
}

// Metering is the per-request usage path: one EMF line per request (no AWS
// call) and a count in the process's hourly aggregate (memory only). The
// aggregate reaches the ledger off the request path: the process runs
// RunUsageFlusher, and calls FlushUsage when it ends.
type Metering struct {
	Emitter    *metering.Emitter
	Aggregator *metering.Aggregator
	Ledger     Ledger
	// Writer names this process in the ledger (one Lambda environment).
	Writer string
	// FlushTimeout bounds each flush; 0 means metering.FlushTimeout.
	FlushTimeout time.Duration

	flusher *metering.Flusher
}

// WithMetering turns on metering for the handler.
func (h *Handler) WithMetering(m *Metering) *Handler {
	m.flusher = metering.NewFlusher(m.Aggregator, m.Ledger, m.Writer, m.FlushTimeout, h.log)
	h.meters = m
	return h
}

// unattributed meters requests that never reached a tenant (no or a bad
// token claim): they are counted, not billed.
const unattributed = "unattributed"

func (h *Handler) meterRequest(_ context.Context, log *slog.Logger, m *metering.Meter, routeKey string, start time.Time, status int, requestID string) {
	if h.meters == nil {
		return
	}
	if m == nil {
		m = metering.Start(unattributed, unattributed, routeKey, start)
	}
	rec, err := h.meters.Emitter.Emit(m, status, time.Now(), requestID)
	if err != nil {
		log.Warn("emit metrics", "error", err.Error())
		return
	}
	if rec.TenantID == unattributed {
		return
	}
	h.meters.Aggregator.Add(rec)
}

// RunUsageFlusher writes the process's usage totals to the ledger whenever
// they are due (at most every flush interval of the aggregator, looking
// every check), until ctx ends, and then once more within the flush
// timeout. Every process that serves the handler runs it for its whole
// life; without metering it returns when ctx ends.
func (h *Handler) RunUsageFlusher(ctx context.Context, check time.Duration) {
	if h.meters == nil {
		<-ctx.Done()
		return
	}
	h.meters.flusher.Run(ctx, check)
}

// FlushUsage writes the process's pending usage totals now, within ctx and
// the flush timeout (at shutdown, and in tests).
func (h *Handler) FlushUsage(ctx context.Context) error {
	if h.meters == nil {
		return nil
	}
	return h.meters.flusher.Flush(ctx)
}
