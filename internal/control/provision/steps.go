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

var (
	// errWaiting: a re-check is scheduled; this delivery is done.
	errWaiting = errors.New("provision: waiting for the stack")
	// errPermanent marks failures that no retry can fix.
	errPermanent = errors.New("provision: permanent failure")
)

func permanent(err error) error { return fmt.Errorf("%w: %w", errPermanent, err) }

// describeStack returns the stack, or nil when there is none.
func (p *Provisioner) describeStack(ctx context.Context, name string) (*cfntypes.Stack, error) {
	out, err := p.d.Stacks.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
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

// scheduleCheck sends a delayed TenantProvisioningCheck to the
// provisioner's own queue.
func (p *Provisioner) scheduleCheck(ctx context.Context, d bus.Detail) error {
	d.Attempt++
	d.SchemaVersion = bus.SchemaVersion
	detail, err := json.Marshal(d)
	if err != nil {
		return err
	}
	body, err := json.Marshal(map[string]any{
		"version": "0", "id": bus.NewCorrelationID(), "detail-type": string(bus.TenantProvisioningCheck),
		"source": bus.Source, "account": p.d.Account, "time": time.Now().UTC().Format("2006-01-02T15:04:05Z"),
		"region": p.d.Settings.Region(), "resources": []string{}, "detail": json.RawMessage(detail),
	})
	if err != nil {
		return err
	}
	_, err = p.d.Queue.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(p.d.QueueURL),
		MessageBody: aws.String(string(body)), DelaySeconds: int32(p.d.CheckDelay.Seconds())})
	if err != nil {
		return fmt.Errorf("schedule stack check: %w", err)
	}
	return nil
}

// ensureAdmin creates the tenant's first admin in the user pool and records
// it in the tenant's own data, both idempotently.
func (p *Provisioner) ensureAdmin(ctx context.Context, rec catalog.Record) error {
	if rec.AdminEmail == "" {
		return nil
	}
	u, err := p.d.Users.Create(ctx, rec.TenantID, tenant.RoleAdmin, rec.AdminEmail)
	if errors.Is(err, directory.ErrOtherTenant) {
		return permanent(fmt.Errorf("admin email is a user of another tenant"))
	}
	if err != nil && !errors.Is(err, directory.ErrUserExists) {
		return err
	}
	data, err := p.data(rec)
	if err != nil {
		return err
	}
	return data.PutUser(ctx, store.UserRecord{Email: rec.AdminEmail, Role: string(tenant.RoleAdmin), Sub: u.Sub})
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
	// 2. Users: every user the tenant recorded, and its first admin.
	if rec.Placement.Table != "" {
		emails, err := p.userEmails(ctx, rec)
		if err != nil {
			return err
		}
		for _, e := range emails {
			if err := p.d.Users.Delete(ctx, rec.TenantID, e); err != nil && !errors.Is(err, directory.ErrOtherTenant) {
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
	if err := tenantkey.Retire(ctx, p.d.Keys, rec.TenantID, KeyDeletionDays); err != nil {
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

func (p *Provisioner) userEmails(ctx context.Context, rec catalog.Record) ([]string, error) {
	data, err := p.data(rec)
	if err != nil {
		return nil, err
	}
	var emails []string
	req := store.PageRequest{Limit: 100}
	for {
		page, err := data.ListUsers(ctx, req)
		if err != nil {
			return nil, err
		}
		for _, u := range page.Items {
			emails = append(emails, u.Email)
		}
		if page.Next == "" {
			return emails, nil
		}
		req.Cursor = page.Next
	}
}

func (p *Provisioner) deleteStack(ctx context.Context, tenantID string) error {
	name := StackName(tenantID)
	st, err := p.describeStack(ctx, name)
	if err != nil || st == nil {
		return err
	}
	if st.StackStatus != cfntypes.StackStatusDeleteInProgress {
		if _, err := p.d.Stacks.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(name)}); err != nil {
			return fmt.Errorf("delete stack %s: %w", name, err)
		}
	}
	if st, err = p.describeStack(ctx, name); err != nil {
		return err
	}
	if st != nil {
		return fmt.Errorf("%w: stack %s is %s", ErrLater, name, st.StackStatus)
	}
	return nil
}

// fail marks the tenant FAILED with the reason and announces it.
func (p *Provisioner) fail(ctx context.Context, d bus.Detail, cause error) error {
	reason := cause.Error()
	if len(reason) > 300 {
		reason = reason[:300]
	}
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
