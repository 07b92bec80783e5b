package provision

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/smithy-go"

	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/control/outbox"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// What becomes of a delivery that did not finish: the tenant's lease while
// it works, delayed re-checks for work that must wait, and giving up with a
// stable reason.

// errLeaseLost cancels the work of a holder whose lease another worker has
// taken (it lapsed while renewals failed).
var errLeaseLost = errors.New("provision: lease lost")

// maxDelay is the longest DelaySeconds SQS accepts.
const maxDelay = 15 * time.Minute

// withLease runs work under the tenant's lease held by owner, renewing it
// every third of LeaseTTL until work returns, and releases it after. If the
// lease is lost meanwhile, work's context is cancelled and the result is
// ErrLater: the new holder carries on, and a re-check looks again.
func (p *Provisioner) withLease(ctx context.Context, tenantID, owner string, work func(context.Context) error) error {
	ttl := p.d.LeaseTTL
	if err := p.d.Catalog.Lease(ctx, tenantID, owner, ttl); err != nil {
		if errors.Is(err, store.ErrLeased) {
			return fmt.Errorf("%w: %w", ErrLater, err)
		}
		return err
	}
	defer func() {
		// Conditional on owner: a lease another worker took is left alone.
		if err := p.d.Catalog.Release(context.WithoutCancel(ctx), tenantID, owner); err != nil {
			p.d.Log.Warn("release lease", "tenantId", tenantID, "owner", owner, "error", err.Error())
		}
	}()
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.renew(wctx, tenantID, owner, ttl, stop, cancel)
	}()
	err := work(wctx)
	close(stop)
	wg.Wait()
	if cause := context.Cause(wctx); err != nil && errors.Is(cause, errLeaseLost) {
		return fmt.Errorf("%w: %w (%w)", ErrLater, cause, err)
	}
	return err
}

// renew extends the lease every ttl/3 until stop. When the lease is
// another's, or renewals kept failing until it lapsed, it cancels the work.
func (p *Provisioner) renew(ctx context.Context, tenantID, owner string, ttl time.Duration, stop <-chan struct{}, cancel context.CancelCauseFunc) {
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	held := time.Now().Add(ttl)
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := p.d.Catalog.Renew(ctx, tenantID, owner, ttl)
		switch {
		case err == nil:
			held = time.Now().Add(ttl)
		case errors.Is(err, store.ErrLeased):
			p.d.Log.Warn("lease taken over; stopping", "tenantId", tenantID, "owner", owner)
			cancel(errLeaseLost)
			return
		case time.Now().After(held):
			p.d.Log.Warn("lease lapsed; stopping", "tenantId", tenantID, "owner", owner, "error", err.Error())
			cancel(errLeaseLost)
			return
		default:
			p.d.Log.Warn("renew lease; retrying", "tenantId", tenantID, "owner", owner, "error", err.Error())
		}
	}
}

// recheckDelay is the wait before re-check n (from 1): CheckDelay for the
// first FastChecks, then doubling, up to SQS's 15-minute maximum.
func (p *Provisioner) recheckDelay(n int) time.Duration {
	d := p.d.CheckDelay
	for i := FastChecks; i < n && d < maxDelay; i++ {
		d *= 2
	}
	return min(d, maxDelay)
}

// waited is how long re-checks 1..n have waited in all.
func (p *Provisioner) waited(n int) time.Duration {
	var sum time.Duration
	for i := 1; i <= n; i++ {
		sum += p.recheckDelay(i)
	}
	return sum
}

// recheckOf is the event that re-checks work of type dt.
func recheckOf(dt bus.DetailType) bus.DetailType {
	if dt == bus.TenantOnboardingRequested {
		return bus.TenantProvisioningCheck
	}
	return dt // re-checks of checks, tier changes and offboardings are the event again
}

// later acknowledges a delivery whose work must wait, by putting a delayed
// re-check of it on the queue (instead of leaving the message to come back
// after the queue's visibility timeout, half an hour in AWS, spending its
// receive budget). Work that has waited MaxWait gives up.
func (p *Provisioner) later(ctx context.Context, dt bus.DetailType, d bus.Detail, cause error) error {
	if p.waited(d.Attempt) >= MaxWait {
		return p.giveUp(ctx, dt, d, &failure{"gave_up_waiting", fmt.Sprintf("still not finished after %d re-checks: %s", d.Attempt, readable(cause)), cause})
	}
	d.Attempt++
	if err := p.resend(ctx, recheckOf(dt), d, p.recheckDelay(d.Attempt)); err != nil {
		return err // this delivery comes back instead
	}
	return nil
}

// giveUp ends work that failed for good. Onboarding: FAILED. Offboarding:
// OFFBOARD_FAILED. A tier change has no state of its own, and a backup or
// restore job's state is the backup service's (it ends a job after its own
// attempts, rolling a restore back): the error goes back to the queue,
// whose redrive moves the message to the dead-letter queue, where an
// operator finds it.
func (p *Provisioner) giveUp(ctx context.Context, dt bus.DetailType, d bus.Detail, cause error) error {
	switch dt {
	case bus.TenantOffboardingRequested:
		return p.offboardFailed(ctx, d, cause)
	case bus.TenantTierChanged:
		p.d.Log.Error("tier change failed for good; the message goes on to the dead-letter queue", "tenantId", d.TenantID, "reason", reasonOf(cause))
		return cause
	case bus.TenantBackupRequested, bus.TenantRestoreRequested:
		p.d.Log.Error("backup job event failed for good; the message goes on to the dead-letter queue", "tenantId", d.TenantID, "jobId", d.JobID, "detailType", string(dt), "reason", reasonOf(cause))
		return cause
	default:
		return p.fail(ctx, d, cause)
	}
}

// offboardFailed marks the tenant OFFBOARD_FAILED with the reason, an audit
// entry and a TenantOffboardingFailed event. Its users were already refused
// (the tenant is not ACTIVE); what the failed run did not reach stays,
// the key included: it is retired last, once everything it protects is
// gone, so that a retry can still read the tenant's table (a dedicated
// table whose key is disabled cannot be read, and its user list with it).
// POST /v1/tenants/{id}/offboard starts the offboarding again from here.
func (p *Provisioner) offboardFailed(ctx context.Context, d bus.Detail, cause error) error {
	rec, err := p.d.Catalog.GetTenant(ctx, d.TenantID)
	if err != nil {
		return err
	}
	if rec.Status != catalog.StatusOffboarding {
		return nil // finished or moved on meanwhile
	}
	reason := reasonOf(cause)
	ev, err := outbox.Event(bus.TenantOffboardingFailed, bus.Detail{TenantID: rec.TenantID, Tier: string(rec.Tier), CorrelationID: d.CorrelationID, Reason: reason})
	if err != nil {
		return err
	}
	if _, err := p.d.Catalog.Apply(ctx, rec.TenantID, store.Change{From: []catalog.Status{catalog.StatusOffboarding}, To: catalog.StatusOffboardFailed, Reason: reason},
		ev, &store.AuditEntry{Action: "offboarding-failed", Actor: "provisioner", Detail: reason}); err != nil {
		return ignoreStatusChanged(err)
	}
	p.d.Outbox.PublishOrKeep(ctx, ev)
	return nil
}

// exhausted is the failure of work whose every delivery failed.
func exhausted(attempts int, last error) error {
	return &failure{"retries_exhausted", fmt.Sprintf("gave up after %d attempts: %s", attempts, readable(last)), last}
}

// maxReason bounds a tenant's reason.
const maxReason = 300

// reasonOf is the tenant's reason for cause: the stable code and message
// of a *failure, else the readable error; at most maxReason bytes.
func reasonOf(cause error) string {
	reason := readable(cause)
	if f := (*failure)(nil); errors.As(cause, &f) {
		reason = f.Error() // its code and message, however it was wrapped
	}
	return truncate(reason, maxReason)
}

// readable is err's text with every AWS SDK error in it shortened to its
// code and message: no operation name, HTTP status or request id, which
// change from one attempt to the next and mean nothing to an operator.
func readable(err error) string {
	s := err.Error()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return s
	}
	short := ae.ErrorCode() + ": " + ae.ErrorMessage()
	if op := (*smithy.OperationError)(nil); errors.As(err, &op) && strings.Contains(s, op.Error()) {
		return strings.Replace(s, op.Error(), short, 1)
	}
	if strings.Contains(s, ae.Error()) {
		return strings.Replace(s, ae.Error(), short, 1)
	}
	return s
}

// truncate cuts s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
