package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"

	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/control/outbox"
	"github.com/tessera-saas/tessera/internal/control/tenantkey"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/directory"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// errPermanent marks failures that no retry can fix (every *failure is
// one).
var errPermanent = errors.New("provision: permanent failure")

// permanent marks err as a failure no retry fixes, with the generic code
// permanent_failure unless it is a *failure already.
func permanent(err error) error {
	if f := (*failure)(nil); errors.As(err, &f) {
		return err
	}
	return &failure{"permanent_failure", readable(err), err}
}

// describeStack returns the stack, or nil when there is none.
func (p *Provisioner) describeStack(ctx context.Context, name string) (*cfntypes.Stack, error) {
	return p.tables().describeStack(ctx, name)
}

func (t Tables) describeStack(ctx context.Context, name string) (*cfntypes.Stack, error) {
	out, err := t.Stacks.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	var ae smithy.APIError
	if errors.As(err, &ae) && strings.Contains(ae.ErrorMessage(), "does not exist") {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describe stack %s: %w", name, err)
	}
	for _, st := range out.Stacks {
		if st.StackStatus != cfntypes.StackStatusDeleteComplete {
			return &st, nil
		}
	}
	return nil, nil
}

// resend puts event dt with detail d on the provisioner's own queue, to be
// delivered after delay (at most SQS's 15 minutes), as an EventBridge rule
// target would receive it.
func (p *Provisioner) resend(ctx context.Context, dt bus.DetailType, d bus.Detail, delay time.Duration) error {
	d.SchemaVersion = bus.SchemaVersion
	if err := bus.Validate(dt, d); err != nil {
		return fmt.Errorf("re-check of %s: %w", d.TenantID, err)
	}
	detail, err := json.Marshal(d)
	if err != nil {
		return err
	}
	body, err := json.Marshal(map[string]any{
		"version": "0", "id": bus.NewCorrelationID(), "detail-type": string(dt),
		"source": bus.Source, "account": p.d.Account, "time": time.Now().UTC().Format("2006-01-02T15:04:05Z"),
		"region": p.d.Settings.Region(), "resources": []string{}, "detail": json.RawMessage(detail),
	})
	if err != nil {
		return err
	}
	_, err = p.d.Queue.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(p.d.QueueURL),
		MessageBody: aws.String(string(body)), DelaySeconds: int32(min(delay, maxDelay).Seconds())})
	if err != nil {
		return fmt.Errorf("schedule re-check of %s: %w", d.TenantID, err)
	}
	return nil
}

// failure is a permanent failure with a stable reason: a code and a
// sentence an operator can act on, shown in the tenant's reason and its
// TenantProvisioningFailed event instead of the raw error (which holds SDK
// details such as request ids, and is logged where it happens).
type failure struct {
	code, msg string
	cause     error
}

func (f *failure) Error() string        { return f.code + ": " + f.msg }
func (f *failure) Is(target error) bool { return target == errPermanent }
func (f *failure) Unwrap() error        { return f.cause }

// ensureAdmin creates the tenant's first admin in the user pool and records
// it (by its sub) in the tenant's own data, both idempotently. An email the
// pool refuses, or one that is somebody else's, fails onboarding at once; a
// pool over its limits (such as its daily email quota) is retried later,
// never a failure.
func (p *Provisioner) ensureAdmin(ctx context.Context, rec catalog.Record) error {
	if rec.AdminEmail == "" {
		return nil
	}
	u, err := p.d.Users.Create(ctx, rec.TenantID, tenant.RoleAdmin, rec.AdminEmail)
	var f *failure
	switch {
	case errors.Is(err, directory.ErrOtherTenant):
		f = &failure{"admin_email_taken", "the admin email is a user of another tenant", err}
	case errors.Is(err, directory.ErrInvalidUser):
		f = &failure{"admin_email_rejected", "the user pool refused the admin email", err}
	case errors.Is(err, directory.ErrTryLater):
		return fmt.Errorf("%w: create admin: %w", ErrLater, err)
	case err != nil && !errors.Is(err, directory.ErrUserExists):
		return err
	}
	if f != nil {
		p.d.Log.Warn("admin user refused", "tenantId", rec.TenantID, "reason", f.code, "error", err.Error())
		return f
	}
	data, err := p.data(rec)
	if err != nil {
		return err
	}
	_, err = data.PutUser(ctx, store.UserRecord{Email: rec.AdminEmail, Role: string(tenant.RoleAdmin), Sub: u.Sub})
	return err
}

// data is the tenant's own data, for the provisioner acting as the tenant:
// background work takes the tenant from the event and catalog, never from
// ambient state.
func (p *Provisioner) data(rec catalog.Record) (store.TenantData, error) {
	sc, err := catalog.ActAs(rec)
	if err != nil {
		return store.TenantData{}, fmt.Errorf("act as tenant %s: %w", rec.TenantID, err)
	}
	return p.d.Data.For(sc), nil
}

// offboard removes an OFFBOARDING tenant's API key, users, data, stack and
// KMS key, and
// leaves an OFFBOARDED record with an audit entry.
func (p *Provisioner) offboard(ctx context.Context, d bus.Detail) error {
	rec, err := p.d.Catalog.GetTenant(ctx, d.TenantID)
	if err != nil {
		return err
	}
	if rec.Status != catalog.StatusOffboarding {
		return nil
	}
	// 1. The API key: the tenant's clients stop getting through the API
	// Gateway at once, whatever tokens they hold.
	if err := p.d.APIKeys.Delete(ctx, rec.TenantID); err != nil {
		return err
	}
	// 2. Users: every user the tenant recorded, by sub (users can change
	// their email; the sub never changes), and its first admin by email
	// (in case its record was never written; a user of another tenant is
	// never deleted).
	listed, err := p.usersListed(ctx, rec)
	if err != nil {
		return err
	}
	if listed {
		subs, err := p.userSubs(ctx, rec)
		if err != nil {
			return err
		}
		for _, sub := range subs {
			if err := p.d.Users.Delete(ctx, rec.TenantID, sub); err != nil && !errors.Is(err, directory.ErrOtherTenant) {
				return err
			}
		}
	}
	if rec.AdminEmail != "" {
		if err := p.d.Users.Delete(ctx, rec.TenantID, rec.AdminEmail); err != nil && !errors.Is(err, directory.ErrOtherTenant) {
			return err
		}
	}
	// 3. Data: the stack of a dedicated table, or the tenant's own keys in
	// the pooled table.
	purged := 0
	if rec.Placement.Dedicated {
		if err := p.deleteStack(ctx, rec.TenantID); err != nil {
			return err
		}
	} else if rec.Placement.Table != "" {
		data, err := p.data(rec)
		if err != nil {
			return err
		}
		if purged, err = data.PurgeTenant(ctx); err != nil {
			return err
		}
	}
	// 4. The key: disabled now, deleted after the waiting period. Every copy
	// of the data, backups included, is unreadable from here on.
	if err := tenantkey.Retire(ctx, p.d.Keys, p.d.Settings.Stage, rec.TenantID, KeyDeletionDays); err != nil {
		return err // (a tenant without a key, or one already retired, is success)
	}
	ev, err := outbox.Event(bus.TenantOffboarded, bus.Detail{TenantID: rec.TenantID, Tier: string(rec.Tier), CorrelationID: d.CorrelationID})
	if err != nil {
		return err
	}
	if _, err := p.d.Catalog.Apply(ctx, rec.TenantID, store.Change{From: []catalog.Status{catalog.StatusOffboarding}, To: catalog.StatusOffboarded},
		ev, &store.AuditEntry{Action: "offboarded", Actor: "provisioner", Detail: fmt.Sprintf("users removed, %d pooled items deleted, key retired", purged)}); err != nil {
		return ignoreStatusChanged(err)
	}
	p.d.Outbox.PublishOrKeep(ctx, ev)
	return nil
}

// usersListed reports whether the tenant's table still lists its users. A
// dedicated table whose stack is being deleted, or is gone, does not: that
// began in step 3 of an earlier run, after step 2 had removed the users.
func (p *Provisioner) usersListed(ctx context.Context, rec catalog.Record) (bool, error) {
	if rec.Placement.Table == "" {
		return false, nil
	}
	if !rec.Placement.Dedicated {
		return true, nil
	}
	st, err := p.describeStack(ctx, StackName(p.d.Settings.Stage, rec.TenantID))
	if err != nil {
		return false, err
	}
	return st != nil && st.StackStatus != cfntypes.StackStatusDeleteInProgress, nil
}

func (p *Provisioner) userSubs(ctx context.Context, rec catalog.Record) ([]string, error) {
	data, err := p.data(rec)
	if err != nil {
		return nil, err
	}
	var subs []string
	req := store.PageRequest{Limit: 100}
	for {
		page, err := data.ListUsers(ctx, req)
		if err != nil {
			return nil, err
		}
		for _, u := range page.Items {
			subs = append(subs, u.Sub)
		}
		if page.Next == "" {
			return subs, nil
		}
		req.Cursor = page.Next
	}
}

func (p *Provisioner) deleteStack(ctx context.Context, tenantID string) error {
	return p.tables().delete(ctx, tenantID)
}

func (t Tables) delete(ctx context.Context, tenantID string) error {
	name := StackName(t.Settings.Stage, tenantID)
	st, err := t.describeStack(ctx, name)
	if err != nil || st == nil {
		return err
	}
	if st.StackStatus != cfntypes.StackStatusDeleteInProgress {
		if _, err := t.Stacks.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(name)}); err != nil {
			return fmt.Errorf("delete stack %s: %w", name, err)
		}
	}
	if st, err = t.describeStack(ctx, name); err != nil {
		return err
	}
	if st != nil {
		return fmt.Errorf("%w: stack %s is %s", ErrLater, name, st.StackStatus)
	}
	return nil
}

// fail marks the tenant FAILED with the reason and announces it.
func (p *Provisioner) fail(ctx context.Context, d bus.Detail, cause error) error {
	reason := reasonOf(cause)
	ev, err := outbox.Event(bus.TenantProvisioningFailed, bus.Detail{TenantID: d.TenantID, Tier: d.Tier, CorrelationID: d.CorrelationID, Reason: reason})
	if err != nil {
		return err
	}
	_, err = p.d.Catalog.Apply(ctx, d.TenantID, store.Change{From: []catalog.Status{catalog.StatusProvisioning}, To: catalog.StatusFailed, Reason: reason},
		ev, &store.AuditEntry{Action: "provisioning-failed", Actor: "provisioner", Detail: reason})
	if err != nil {
		return ignoreStatusChanged(err)
	}
	p.d.Outbox.PublishOrKeep(ctx, ev)
	return nil
}
