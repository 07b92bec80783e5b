package provision

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/tessera-saas/tessera/internal/control/apikey"
	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/control/outbox"
	"github.com/tessera-saas/tessera/internal/control/tenantkey"
	"github.com/tessera-saas/tessera/internal/control/tenantstack"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/directory"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// CloudFormation is the part of the CloudFormation API the provisioner uses.
type CloudFormation interface {
	CreateStack(context.Context, *cloudformation.CreateStackInput, ...func(*cloudformation.Options)) (*cloudformation.CreateStackOutput, error)
	DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
	DeleteStack(context.Context, *cloudformation.DeleteStackInput, ...func(*cloudformation.Options)) (*cloudformation.DeleteStackOutput, error)
}

// Queue sends the provisioner's delayed re-checks to its own queue.
type Queue interface {
	SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Deps are the provisioner's collaborators.
type Deps struct {
	Catalog *store.Catalog
	Data    *store.Store // tenant-scoped: records users, purges data
	Keys    tenantkey.KMS
	// APIKeys binds each tenant's API key to its tier's usage plan.
	APIKeys   *apikey.Binder
	Users     *directory.Directory
	Stacks    CloudFormation
	Queue     Queue
	QueueURL  string
	Outbox    *outbox.Outbox
	Settings  settings.Settings
	Partition string
	Account   string
	// AdminRoleARN manages tenant keys (the provisioner's own role).
	AdminRoleARN string
	// CheckDelay is the wait between looks at a stack being created
	// (default DefaultCheckDelay).
	CheckDelay time.Duration
	Log        *slog.Logger
}

// Defaults of the retry budget and the stack wait.
const (
	// MaxAttempts is how many deliveries of one event the provisioner tries
	// before it marks the tenant FAILED (the queue's DLQ catches the rest).
	MaxAttempts = 5
	// DefaultCheckDelay is how long a premium onboarding waits between
	// looks at its stack, without holding a Lambda.
	DefaultCheckDelay = 15 * time.Second
	// MaxChecks bounds the wait for a stack: 60 checks of 15 s = 15 min.
	MaxChecks = 60
	leaseTTL  = 2 * time.Minute
	// Concurrency bounds how many records of a batch run at once.
	Concurrency = 4
	// KeyDeletionDays is the waiting period before a retired key is deleted.
	KeyDeletionDays = 7
)

// ErrLater means the work is not finished and the event must come back
// later (another worker holds the tenant, or a stack is still being made).
var ErrLater = errors.New("provision: not finished, retry later")

// Provisioner handles provisioning events.
type Provisioner struct {
	d     Deps
	owner string
}

// New returns a provisioner. It makes no AWS call.
func New(d Deps) *Provisioner {
	if d.CheckDelay <= 0 {
		d.CheckDelay = DefaultCheckDelay
	}
	return &Provisioner{d: d, owner: "provisioner-" + tenant.NewID()[2:]}
}

// Handle is the Lambda entry point for SQS batches: each record is handled
// on its own, at most Concurrency at a time, and failures are reported per
// item so only they come back.
func (p *Provisioner) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var (
		mu   sync.Mutex
		resp events.SQSEventResponse
		wg   sync.WaitGroup
		sem  = make(chan struct{}, Concurrency)
	)
	for _, rec := range ev.Records {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := p.handleRecord(ctx, rec); err != nil {
				mu.Lock()
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return resp, nil
}

func (p *Provisioner) handleRecord(ctx context.Context, rec events.SQSMessage) error {
	env, err := bus.Parse([]byte(rec.Body))
	if err != nil {
		// A malformed message never succeeds: drop it, loudly.
		p.d.Log.Error("dropping malformed provisioning message", "messageId", rec.MessageId, "error", err.Error())
		return nil
	}
	d := env.Detail
	log := p.d.Log.With("tenantId", d.TenantID, "correlationId", d.CorrelationID, "detailType", env.DetailType)
	attempt, _ := strconv.Atoi(rec.Attributes["ApproximateReceiveCount"])
	err = p.Process(ctx, bus.DetailType(env.DetailType), d)
	switch {
	case errors.Is(err, errPermanent):
		log.Error("provisioning failed for good", "error", err.Error())
		return p.fail(ctx, d, err)
	case err == nil:
		log.Info("provisioning step done")
		return nil
	case errors.Is(err, ErrLater):
		log.Info("provisioning continues later", "reason", err.Error())
		return err
	case attempt >= MaxAttempts:
		log.Error("provisioning failed for good", "attempt", attempt, "error", err.Error())
		return p.fail(ctx, d, err)
	default:
		log.Warn("provisioning attempt failed; will retry", "attempt", attempt, "error", err.Error())
		return err
	}
}

// Process runs the work of one event. It is safe to call again with the same
// event at any point.
func (p *Provisioner) Process(ctx context.Context, dt bus.DetailType, d bus.Detail) error {
	if !tenant.ValidID(d.TenantID) {
		return fmt.Errorf("provision: invalid tenant id %q", d.TenantID)
	}
	switch dt {
	case bus.TenantOnboardingRequested, bus.TenantProvisioningCheck:
		err := p.withLease(ctx, d.TenantID, func() error { return p.onboard(ctx, d) })
		if errors.Is(err, errWaiting) {
			p.d.Log.Info("stack still being created; re-check scheduled", "tenantId", d.TenantID, "check", d.Attempt+1)
			return nil // this delivery is done; the re-check is on the queue
		}
		return err
	case bus.TenantTierChanged:
		return p.withLease(ctx, d.TenantID, func() error { return p.rebind(ctx, d) })
	case bus.TenantOffboardingRequested:
		return p.withLease(ctx, d.TenantID, func() error { return p.offboard(ctx, d) })
	}
	return nil // not ours
}

func (p *Provisioner) withLease(ctx context.Context, tenantID string, fn func() error) error {
	if err := p.d.Catalog.Lease(ctx, tenantID, p.owner, leaseTTL); err != nil {
		if errors.Is(err, store.ErrLeased) {
			return fmt.Errorf("%w: %v", ErrLater, err)
		}
		return err
	}
	defer func() {
		if err := p.d.Catalog.Release(context.WithoutCancel(ctx), tenantID, p.owner); err != nil {
			p.d.Log.Warn("release lease", "tenantId", tenantID, "error", err.Error())
		}
	}()
	return fn()
}

// onboard walks a PROVISIONING tenant to ACTIVE.
func (p *Provisioner) onboard(ctx context.Context, d bus.Detail) error {
	rec, err := p.d.Catalog.GetTenant(ctx, d.TenantID)
	if err != nil {
		return err
	}
	if rec.Status != catalog.StatusProvisioning {
		return nil // done already, or moved on (offboarded meanwhile)
	}
	// 1. The tenant's key, through the KMS API, for every tier. The marker
	// written first tells a retry after a crash between CreateKey and
	// CreateAlias to adopt the orphan key instead of making a second one.
	ensure := tenantkey.EnsureRecovering
	if !rec.KeyRequested {
		if rec, err = p.d.Catalog.Apply(ctx, rec.TenantID, store.Change{From: []catalog.Status{catalog.StatusProvisioning}, KeyRequested: true}, nil, nil); err != nil {
			return ignoreStatusChanged(err)
		}
		ensure = tenantkey.Ensure
	}
	keyARN, err := ensure(ctx, p.d.Keys, rec.TenantID, p.keyPolicy(rec.TenantID))
	if err != nil {
		return err
	}
	// 2. The placement.
	placement := catalog.Placement{Table: p.d.Settings.PooledTable, KeyARN: keyARN}
	if rec.Tier == catalog.TierPremium {
		table, err := p.ensureStack(ctx, rec, keyARN, d)
		if err != nil {
			return err
		}
		placement = catalog.Placement{Table: table, Dedicated: true, KeyARN: keyARN}
	}
	if rec.Placement != placement {
		if rec, err = p.d.Catalog.Apply(ctx, rec.TenantID, store.Change{From: []catalog.Status{catalog.StatusProvisioning}, Placement: &placement}, nil, nil); err != nil {
			return ignoreStatusChanged(err)
		}
	}
	// 3. The tenant's API key, in its tier's usage plan.
	if err := p.bindKey(ctx, rec); err != nil {
		return err
	}
	// 4. The admin user, recorded in the tenant's own data.
	if err := p.ensureAdmin(ctx, rec); err != nil {
		return err
	}
	// 5. ACTIVE, announced through the outbox.
	ev, err := outbox.Event(bus.TenantProvisioned, bus.Detail{TenantID: rec.TenantID, Tier: string(rec.Tier), CorrelationID: d.CorrelationID, Table: placement.Table})
	if err != nil {
		return err
	}
	if _, err := p.d.Catalog.Apply(ctx, rec.TenantID, store.Change{From: []catalog.Status{catalog.StatusProvisioning}, To: catalog.StatusActive, ClearReason: true},
		ev, &store.AuditEntry{Action: "provisioned", Actor: "provisioner", Detail: placement.Table}); err != nil {
		return ignoreStatusChanged(err)
	}
	p.d.Outbox.PublishOrKeep(ctx, ev)
	return nil
}

// bindKey puts the tenant's API key in the usage plan of its tier.
func (p *Provisioner) bindKey(ctx context.Context, rec catalog.Record) error {
	k, err := p.d.APIKeys.Bind(ctx, rec.TenantID, rec.Tier)
	if errors.Is(err, apikey.ErrNoPlan) {
		return permanent(err)
	}
	if err != nil {
		return err
	}
	p.d.Log.Info("api key bound", "tenantId", rec.TenantID, "tier", string(rec.Tier), "apiKeyId", k.ID)
	return nil
}

// rebind follows a tier change: the key moves to the plan of the tier the
// catalog holds now (not the event's, which may be stale when changes come
// in quick succession). Tenants on their way out keep what they have.
func (p *Provisioner) rebind(ctx context.Context, d bus.Detail) error {
	rec, err := p.d.Catalog.GetTenant(ctx, d.TenantID)
	if err != nil {
		return err
	}
	switch rec.Status {
	case catalog.StatusOffboarding, catalog.StatusOffboarded, catalog.StatusFailed:
		return nil
	}
	return p.bindKey(ctx, rec)
}

func ignoreStatusChanged(err error) error {
	if errors.Is(err, store.ErrStatusChanged) {
		return nil // someone else finished or moved the tenant on
	}
	return err
}

func (p *Provisioner) keyPolicy(tenantID string) []byte {
	admin := p.d.AdminRoleARN
	if admin == "" {
		admin = "arn:" + p.d.Partition + ":iam::" + p.d.Account + ":root"
	}
	return access.TenantKeyPolicy(access.KeyPolicyParams{Partition: p.d.Partition, Account: p.d.Account, Region: p.d.Settings.Region(), TenantID: tenantID,
		DataAccessRoleARN: p.d.Settings.DataAccessRoleARN, AdminRoleARN: admin}).JSON()
}

// StackName is the CloudFormation stack of a premium tenant.
func StackName(tenantID string) string { return access.DedicatedTablePrefix + tenantID }

// ensureStack creates the tenant's stack unless it exists and returns its
// table once the stack is complete. While CloudFormation works, it schedules
// a delayed re-check on the queue and returns errWaiting: the current
// message is done, and no Lambda waits for minutes.
func (p *Provisioner) ensureStack(ctx context.Context, rec catalog.Record, keyARN string, d bus.Detail) (string, error) {
	name := StackName(rec.TenantID)
	st, err := p.describeStack(ctx, name)
	if err != nil {
		return "", err
	}
	if st == nil {
		_, err := p.d.Stacks.CreateStack(ctx, &cloudformation.CreateStackInput{
			StackName:    aws.String(name),
			TemplateBody: aws.String(tenantstack.TemplateBody()),
			Parameters: []cfntypes.Parameter{
				{ParameterKey: aws.String(tenantstack.ParamTenantID), ParameterValue: aws.String(rec.TenantID)},
				{ParameterKey: aws.String(tenantstack.ParamKeyArn), ParameterValue: aws.String(keyARN)},
			},
			Tags:               []cfntypes.Tag{{Key: aws.String(access.TenantTag), Value: aws.String(rec.TenantID)}},
			ClientRequestToken: aws.String("create-" + rec.TenantID),
			OnFailure:          cfntypes.OnFailureDelete,
		})
		var exists *cfntypes.AlreadyExistsException
		if err != nil && !errors.As(err, &exists) {
			return "", fmt.Errorf("create stack %s: %w", name, err)
		}
		if st, err = p.describeStack(ctx, name); err != nil {
			return "", err
		}
		if st == nil {
			return "", fmt.Errorf("stack %s not found after create", name)
		}
	}
	switch st.StackStatus {
	case cfntypes.StackStatusCreateComplete, cfntypes.StackStatusUpdateComplete:
		for _, o := range st.Outputs {
			if aws.ToString(o.OutputKey) == tenantstack.OutputTableName {
				return aws.ToString(o.OutputValue), nil
			}
		}
		return "", fmt.Errorf("stack %s has no %s output", name, tenantstack.OutputTableName)
	case cfntypes.StackStatusCreateInProgress:
		if d.Attempt >= MaxChecks {
			return "", permanent(fmt.Errorf("stack %s still creating after %d checks", name, d.Attempt))
		}
		if err := p.scheduleCheck(ctx, d); err != nil {
			return "", err
		}
		return "", errWaiting
	default:
		return "", permanent(fmt.Errorf("stack %s is %s: %s", name, st.StackStatus, aws.ToString(st.StackStatusReason)))
	}
}
