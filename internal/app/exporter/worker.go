package exporter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/open-feature/go-sdk/openfeature"

	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/crypto"
	"github.com/tessera-saas/tessera/internal/platform/entityid"
	"github.com/tessera-saas/tessera/internal/platform/export"
	"github.com/tessera-saas/tessera/internal/platform/features"
	"github.com/tessera-saas/tessera/internal/platform/order"
	"github.com/tessera-saas/tessera/internal/platform/product"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// Catalog looks up tenant records (a catalog.Cache in production).
type Catalog interface {
	Get(ctx context.Context, tenantID string) (catalog.Record, error)
}

// Source is the store both sides reach a tenant's data through
// (*store.Store): its export records, and for the worker its products and
// orders.
type Source interface {
	For(sc catalog.Scope) store.TenantData
}

// CredentialSource hands out a tenant's scoped credentials (internal/platform/access).
type CredentialSource interface {
	ForTenant(ctx context.Context, tenantID string) (aws.CredentialsProvider, error)
}

// Run identifies one export run, for the run hook.
type Run struct {
	TenantID string
	ExportID string
	Tier     catalog.Tier
}

// Defaults of the worker.
const (
	// DefaultLease is how long a run holds its export when the context has
	// no deadline (locally). In Lambda the lease ends with the invocation's
	// deadline: a run cannot outlive it, so a redelivery after a timeout
	// takes the export over.
	DefaultLease = 15 * time.Minute
	// DefaultPageSize is how many items one Query asks for (DynamoDB also
	// stops a page at 1 MB; the store's cursor continues from there).
	DefaultPageSize = 250
)

// Errors a record reports as a batch item failure, so its message comes
// back after the visibility timeout.
var (
	errTenantSuspended  = errors.New("exporter: tenant is suspended")
	errTenantRestoring  = errors.New("exporter: tenant is being restored")
	errRunningElsewhere = errors.New("exporter: export is running elsewhere")
)

// Worker runs exports from a tier queue; Handle is the Lambda handler of
// functions/exports.
type Worker struct {
	tenants  Catalog
	data     Source
	objects  Objects
	creds    CredentialSource
	bucket   string
	log      *slog.Logger
	now      func() time.Time
	lease    time.Duration
	partSize int
	pageSize int32
	onRun    func(Run) func()
	// region is the feature flag evaluation context's (WithRegion).
	region string
}

// Option configures a Worker.
type Option func(*Worker)

// WithRunHook calls hook when a run has taken its export (after the
// QUEUED -> RUNNING write), and the function it returns when the run ends.
// Tests measure exports in flight with it.
func WithRunHook(hook func(Run) (done func())) Option { return func(w *Worker) { w.onRun = hook } }

// WithRegion names the Region in the feature flag evaluation context of
// each run (features.ContextFor).
func WithRegion(region string) Option { return func(w *Worker) { w.region = region } }

// WithPageSize sets how many items one Query of the tenant's data asks for
// (1 to 1000; default DefaultPageSize).
func WithPageSize(n int) Option {
	return func(w *Worker) { w.pageSize = int32(min(max(n, 1), 1000)) }
}

// NewWorker returns a worker writing to bucket. It makes no AWS call.
func NewWorker(tenants Catalog, data Source, objects Objects, creds CredentialSource, bucket string, log *slog.Logger, opts ...Option) *Worker {
	w := &Worker{tenants: tenants, data: data, objects: objects, creds: creds, bucket: bucket, log: log, now: time.Now,
		lease: DefaultLease, partSize: DefaultPartSize, pageSize: DefaultPageSize}
	for _, o := range opts {
		o(w)
	}
	return w
}

// Handle is the Lambda entry point for a batch of a tier queue. Records run
// one after the other (one invocation is one export in flight, so the event
// source's MaximumConcurrency bounds the tier's exports); the ones to retry
// are reported as batch item failures.
func (w *Worker) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	for _, rec := range ev.Records {
		if err := w.handleRecord(ctx, rec); err != nil {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
		}
	}
	return resp, nil
}

// handleRecord returns an error only when the message must come back.
// Messages that can never succeed (malformed, an unknown or departed tenant,
// an unknown or finished export) are dropped with a log line.
func (w *Worker) handleRecord(ctx context.Context, rec events.SQSMessage) error {
	attrs := make(map[string]string, len(rec.MessageAttributes))
	for k, v := range rec.MessageAttributes {
		if v.StringValue != nil {
			attrs[k] = *v.StringValue
		}
	}
	log := w.log.With("messageId", rec.MessageId)
	msg, err := export.Parse(rec.Body, attrs)
	if err != nil {
		log.Error("dropping malformed export message", "error", err.Error())
		return nil
	}
	log = log.With("tenantId", msg.TenantID, "exportId", msg.ExportID, "requestId", msg.RequestID)
	attempt, _ := strconv.Atoi(rec.Attributes["ApproximateReceiveCount"])
	lastAttempt := attempt >= export.MaxAttempts

	tr, err := w.tenants.Get(ctx, msg.TenantID)
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		log.Error("dropping export message of an unknown tenant")
		return nil
	case err != nil:
		log.Warn("tenant lookup failed; will retry", "attempt", attempt, "error", err.Error())
		return err
	}
	switch tr.Status {
	case catalog.StatusActive, catalog.StatusSuspended:
	case catalog.StatusRestoring:
		// Read-only while a restore rewrites its items: the run would write
		// the export's record (which the restore may rewrite too) and read
		// items half restored. The message comes back after the visibility
		// timeout, on every attempt: a restore ends, and its tenant's export
		// is not failed for it. (Deliveries past the queue's redrive limit
		// go to the dead-letter queue, the export still QUEUED.)
		log.Warn("tenant is being restored; export waits for a later delivery", "attempt", attempt)
		return errTenantRestoring
	default:
		log.Warn("dropping export message: tenant is not active", "status", string(tr.Status))
		return nil
	}
	// The run acts for the tenant the message names, as its catalog record
	// says: the store and the object writer take the tenant from here.
	sc, err := catalog.ActAs(tr)
	if err != nil {
		return fmt.Errorf("export of tenant %s: %w", tr.TenantID, err)
	}
	data := w.data.For(sc)
	// Flags evaluated anywhere in this run are the tenant's, with the same
	// evaluation context as its requests.
	ctx = openfeature.WithTransactionContext(ctx, features.ContextFor(tr, w.region))
	if tr.Status == catalog.StatusSuspended {
		if !lastAttempt {
			log.Warn("tenant suspended; export waits for a later delivery", "attempt", attempt)
			return errTenantSuspended
		}
		// The export never ran; record why, so the tenant does not see it
		// QUEUED forever once resumed.
		if _, err := data.FailExport(ctx, msg.ExportID, "", export.ReasonTenantNotActive); err != nil && !errors.Is(err, store.ErrExportNotOurs) {
			log.Error("could not mark export failed", "error", err.Error())
			return err
		}
		log.Error("export failed: tenant suspended for every attempt", "attempt", attempt)
		return nil
	}
	return w.run(ctx, log, data, msg, tr, attempt)
}

// run takes the export, writes its object and marks it DONE.
func (w *Worker) run(ctx context.Context, log *slog.Logger, data store.TenantData, msg export.Message, tr catalog.Record, attempt int) error {
	runID := entityid.New()
	_, err := data.StartExport(ctx, msg.ExportID, runID, w.leaseUntil(ctx))
	switch {
	case errors.Is(err, store.ErrNotFound):
		log.Error("dropping export message: no such export of this tenant")
		return nil
	case errors.Is(err, store.ErrExportFinished):
		log.Info("export already finished; redelivered message ignored")
		return nil
	case errors.Is(err, store.ErrExportRunning):
		log.Info("export is running elsewhere; will look again later")
		return errRunningElsewhere
	case err != nil:
		log.Warn("could not start export; will retry", "attempt", attempt, "error", err.Error())
		return err
	}
	if w.onRun != nil {
		done := w.onRun(Run{TenantID: tr.TenantID, ExportID: msg.ExportID, Tier: tr.Tier})
		defer done()
	}
	started := w.now()
	key := export.ObjectKey(tr.TenantID, msg.ExportID)
	items, size, err := w.write(ctx, data, tr, key)
	if err != nil {
		return w.runFailed(ctx, log, data, msg.ExportID, runID, attempt, err)
	}
	if _, err := data.FinishExport(ctx, msg.ExportID, runID, items, key); err != nil {
		if errors.Is(err, store.ErrExportNotOurs) {
			// Our lease ran out and another run took the export over; it
			// writes the same object and finishes the record.
			log.Warn("export taken over by another run", "error", err.Error())
			return nil
		}
		log.Warn("could not finish export; will retry", "attempt", attempt, "error", err.Error())
		return err
	}
	log.Info("export done", "itemCount", items, "bytes", size, "tier", string(tr.Tier), "ms", w.now().Sub(started).Milliseconds())
	return nil
}

// runFailed gives the export back to the queue, or fails it for good after
// the last attempt or for an error no retry fixes.
func (w *Worker) runFailed(ctx context.Context, log *slog.Logger, data store.TenantData, exportID, runID string, attempt int, cause error) error {
	ctx = context.WithoutCancel(ctx)
	permanent := errors.Is(cause, crypto.ErrIntegrity) || errors.Is(cause, ErrTooLarge)
	if permanent || attempt >= export.MaxAttempts {
		log.Error("export failed for good", "attempt", attempt, "error", cause.Error())
		if _, err := data.FailExport(ctx, exportID, runID, export.ReasonFailed); err != nil && !errors.Is(err, store.ErrExportNotOurs) {
			log.Error("could not mark export failed", "error", err.Error())
			return err
		}
		return nil
	}
	log.Warn("export attempt failed; will retry", "attempt", attempt, "error", cause.Error())
	if err := data.RequeueExport(ctx, exportID, runID); err != nil && !errors.Is(err, store.ErrExportNotOurs) {
		log.Warn("could not hand export back; the next run waits for the lease", "error", err.Error())
	}
	return cause
}

// leaseUntil is when this run's hold on its export ends.
func (w *Worker) leaseUntil(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return w.now().Add(w.lease)
}

// write streams the tenant's products, then its orders, as JSON lines to the
// object at key, and returns the number of lines and bytes.
func (w *Worker) write(ctx context.Context, data store.TenantData, tr catalog.Record, key string) (items, size int64, err error) {
	if tr.Placement.KeyARN == "" {
		return 0, 0, fmt.Errorf("export of tenant %s: no KMS key in its placement", tr.TenantID)
	}
	creds, err := w.creds.ForTenant(ctx, tr.TenantID)
	if err != nil {
		return 0, 0, fmt.Errorf("credentials for tenant %s: %w", tr.TenantID, err)
	}
	up := newUpload(ctx, w.objects, objectTarget{bucket: w.bucket, key: key, tenantID: tr.TenantID, keyARN: tr.Placement.KeyARN, creds: creds}, w.partSize)
	defer func() {
		if err != nil {
			if aerr := up.Abort(); aerr != nil {
				err = errors.Join(err, aerr)
			}
		}
	}()
	enc := json.NewEncoder(up)
	err = eachPage(ctx, data.ListProducts, w.pageSize, func(p *product.Product) error {
		items++
		return enc.Encode(export.Line{Type: export.LineProduct, Product: p})
	})
	if err != nil {
		return 0, 0, fmt.Errorf("export products: %w", err)
	}
	err = eachPage(ctx, data.ListOrders, w.pageSize, func(o *order.Order) error {
		items++
		return enc.Encode(export.Line{Type: export.LineOrder, Order: o})
	})
	if err != nil {
		return 0, 0, fmt.Errorf("export orders: %w", err)
	}
	if size, err = up.Close(); err != nil {
		return 0, 0, err
	}
	return items, size, nil
}

// eachPage calls fn for every item of a tenant list, following the store's
// cursors to the last page.
func eachPage[T any](ctx context.Context, list func(context.Context, store.PageRequest) (store.Page[T], error), size int32, fn func(*T) error) error {
	req := store.PageRequest{Limit: size}
	for {
		page, err := list(ctx, req)
		if err != nil {
			return err
		}
		for i := range page.Items {
			if err := fn(&page.Items[i]); err != nil {
				return err
			}
		}
		if page.Next == "" {
			return nil
		}
		req.Cursor = page.Next
	}
}
