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
// call), and the process's hourly aggregate written to the ledger at most
// every flush interval, never once per request.
type Metering struct {
	Emitter    *metering.Emitter
	Aggregator *metering.Aggregator
	Ledger     Ledger
	// Writer names this process in the ledger (one Lambda environment).
	Writer string
}

// WithMetering turns on metering for the handler.
func (h *Handler) WithMetering(m *Metering) *Handler {
	h.meters = m
	return h
}

// unattributed meters requests that never reached a tenant (no or a bad
// token claim): they are counted, not billed.
const unattributed = "unattributed"

func (h *Handler) meterRequest(ctx context.Context, log *slog.Logger, m *metering.Meter, routeKey string, start time.Time, status int, requestID string) {
	if h.meters == nil {
		return
	}
	if m == nil {
		m = metering.Start(unattributed, unattributed, routeKey, start)
	}
	now := time.Now()
	rec, err := h.meters.Emitter.Emit(m, status, now, requestID)
	if err != nil {
		log.Warn("emit metrics", "error", err.Error())
		return
	}
	if rec.TenantID == unattributed {
		return
	}
	h.meters.Aggregator.Add(rec)
	if !h.meters.Aggregator.Claim(now) { // one flush at a time
		return
	}
	dirty := h.meters.Aggregator.Dirty()
	var written []metering.Usage
	defer func() { h.meters.Aggregator.MarkFlushed(written, now) }() // ends the claim, even on a panic
	written, err = h.meters.Ledger.Record(context.WithoutCancel(ctx), h.meters.Writer, dirty)
	if err != nil {
		log.Warn("usage ledger flush failed; will retry", "error", err.Error(), "pending", len(dirty)-len(written))
	}
}

// FlushUsage writes the process's pending usage totals now (at shutdown of
// a long-running process, and in tests).
func (h *Handler) FlushUsage(ctx context.Context) error {
	if h.meters == nil {
		return nil
	}
	dirty := h.meters.Aggregator.Dirty()
	written, err := h.meters.Ledger.Record(ctx, h.meters.Writer, dirty)
	h.meters.Aggregator.MarkFlushed(written, time.Now())
	return err
}
