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
	"github.com/tessera-saas/tessera/internal/control/backup"
	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/control/outbox"
	"github.com/tessera-saas/tessera/internal/control/tenantkey"
	"github.com/tessera-saas/tessera/internal/control/tenantstack"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/directory"
	"github.com/tessera-saas/tessera/internal/platform/recovery"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// CloudFormation is the part of the CloudFormation API the provisioner
// (CreateStack, DescribeStacks, DeleteStack) and the fleet runner
// (UpdateStack, DescribeStacks: Tables.Update) use.
type CloudFormation interface {
	CreateStack(context.Context, *cloudformation.CreateStackInput, ...func(*cloudformation.Options)) (*cloudformation.CreateStackOutput, error)
	DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
	DeleteStack(context.Context, *cloudformation.DeleteStackInput, ...func(*cloudformation.Options)) (*cloudformation.DeleteStackOutput, error)
	UpdateStack(context.Context, *cloudformation.UpdateStackInput, ...func(*cloudformation.Options)) (*cloudformation.UpdateStackOutput, error)
}

// Queue sends the provisioner's delayed re-checks to its own queue.
type Queue interface {
	SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Backups runs backup and restore jobs (*backup.Service). Run advances a
// job as far as it can; an error wrapping backup.ErrWaiting means it must
// be run again later.
type Backups interface {
	Run(ctx context.Context, tenantID, jobID string) error
	ScheduleBackups(ctx context.Context) (int, error)
	// Migrate starts or resumes the tier migration the tenant's tier asks
	// for (backup.ErrNoMigration when its placement fits its tier).
	Migrate(ctx context.Context, tenantID, actor, correlationID string) (recovery.Job, error)
	// CleanupOldCopies deletes migrated tenants' old copies once their
	// grace period has ended.
	CleanupOldCopies(ctx context.Context) (int, error)
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
	// CheckDelay is the wait before a delayed re-check of work that must
	// wait, such as a stack being created or deleted (default
	// DefaultCheckDelay; see recheckDelay).
	CheckDelay time.Duration
	// LeaseTTL is how long a tenant's lease lasts unless renewed (default
	// DefaultLeaseTTL); the holder renews it every third of that while it
	// works, so a crashed worker blocks the tenant for at most LeaseTTL.
	LeaseTTL time.Duration
	// Backups runs the jobs of TenantBackupRequested and
	// TenantRestoreRequested; without it those events are dropped, loudly.
	Backups Backups
	Log     *slog.Logger
}

// Defaults of the retry budget and the stack wait.
const (
	// MaxAttempts is how many deliveries of one event the provisioner tries
	// before it gives up: the tenant becomes FAILED (onboarding) or
	// OFFBOARD_FAILED (offboarding). The queue's maxReceiveCount is one
	// more, so a run that crashes on the last attempt still gets a delivery
	// that records the failure; the DLQ catches the rest.
	MaxAttempts = 5
	// DefaultCheckDelay is how long work that must wait (a stack being
	// created or deleted, a tenant leased by another worker, a user pool
	// over its limits) waits before its next look, without holding a Lambda.
	DefaultCheckDelay = 15 * time.Second
	// FastChecks re-checks come CheckDelay apart (5 min at 15 s, the time a
	// stack usually takes); later ones back off, doubling up to SQS's
	// 15-minute maximum delay.
	FastChecks = 20
	// MaxWait bounds the re-checks of one piece of work; then it gives up
	// with the reason gave_up_waiting. Three days: CloudFormation times out
	// a stuck stack long before, a lease lapses in minutes, and a user pool
	// out of its daily email quota gets it back every day.
	MaxWait = 72 * time.Hour
	// DefaultLeaseTTL is the default Deps.LeaseTTL.
	DefaultLeaseTTL = time.Minute
	// Concurrency bounds how many tenants of a batch run at once.
	Concurrency = 4
	// KeyDeletionDays is the waiting period before a retired key is deleted.
	KeyDeletionDays = 7
)

// ErrLater means the work is not finished and the event must come back
// later (another worker holds the tenant, a stack is still being made or
// deleted, the user pool is over its limits). Handle sends it back to the
// queue as a delayed re-check.
var ErrLater = errors.New("provision: not finished, retry later")

// Provisioner handles provisioning events.
type Provisioner struct {
	d Deps
	// procID names this process in lease owners: a lease's owner is
	// procID/message id, so two messages of one process exclude each other.
	procID string
}

// New returns a provisioner. It makes no AWS call.
func New(d Deps) *Provisioner {
	if d.CheckDelay <= 0 {
		d.CheckDelay = DefaultCheckDelay
	}
	if d.LeaseTTL <= 0 {
		d.LeaseTTL = DefaultLeaseTTL
	}
	return &Provisioner{d: d, procID: "provisioner-" + tenant.NewID()[2:]}
}

// Handle is the Lambda entry point for SQS batches. Records of one tenant
// run one after another, in the batch's order, so they never interleave
// steps; different tenants run side by side, at most Concurrency at a time.
// Failures are reported per item so only they come back.
func (p *Provisioner) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var (
		mu   sync.Mutex
		resp events.SQSEventResponse
		wg   sync.WaitGroup
		sem  = make(chan struct{}, Concurrency)
	)
	for _, group := range byTenant(ev.Records) {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			for _, m := range group {
				if err := p.handleRecord(ctx, m); err != nil {
					mu.Lock()
					resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.rec.MessageId})
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return resp, nil
}

// message is a record of a batch with its parsed body.
type message struct {
	rec events.SQSMessage
	env bus.Envelope
	err error
}

// byTenant parses the records and groups them by tenant, in batch order.
// A record that does not parse is a group of its own.
func byTenant(recs []events.SQSMessage) [][]message {
	var groups [][]message
	index := map[string]int{}
	for _, r := range recs {
		m := message{rec: r}
		m.env, m.err = bus.Parse([]byte(r.Body))
		if m.err != nil {
			groups = append(groups, []message{m})
			continue
		}
		i, ok := index[m.env.Detail.TenantID]
		if !ok {
			i = len(groups)
			index[m.env.Detail.TenantID] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], m)
	}
	return groups
}

func (p *Provisioner) handleRecord(ctx context.Context, m message) error {
	if m.err != nil {
		// A malformed message never succeeds: drop it, loudly.
		p.d.Log.Error("dropping malformed provisioning message", "messageId", m.rec.MessageId, "error", m.err.Error())
		return nil
	}
	dt, d := bus.DetailType(m.env.DetailType), m.env.Detail
	if dt == bus.BackupsDue {
		p.scheduleBackups(ctx, m.rec.MessageId)
		return nil
	}
	log := p.d.Log.With("tenantId", d.TenantID, "correlationId", d.CorrelationID, "detailType", m.env.DetailType, "messageId", m.rec.MessageId)
	attempt, _ := strconv.Atoi(m.rec.Attributes["ApproximateReceiveCount"])
	err := p.process(ctx, p.procID+"/"+m.rec.MessageId, dt, d)
	switch {
	case errors.Is(err, errPermanent):
		log.Error("provisioning failed for good", "error", err.Error())
		return p.giveUp(ctx, dt, d, err)
	case err == nil:
		log.Info("provisioning step done")
		return nil
	case errors.Is(err, ErrLater):
		log.Info("provisioning continues later", "reason", err.Error(), "check", d.Attempt+1)
		return p.later(ctx, dt, d, err)
	case attempt >= MaxAttempts:
		log.Error("provisioning failed for good", "attempt", attempt, "error", err.Error())
		return p.giveUp(ctx, dt, d, exhausted(attempt, err))
	default:
		log.Warn("provisioning attempt failed; will retry", "attempt", attempt, "error", err.Error())
		return err
	}
}

// Process runs the work of one event, as one unit of work with a lease of
// its own. It is safe to call again with the same event at any point.
// ErrLater means the work must wait; Handle re-sends such events with a
// delay, a direct caller calls again later.
func (p *Provisioner) Process(ctx context.Context, dt bus.DetailType, d bus.Detail) error {
	return p.process(ctx, p.procID+"/call-"+bus.NewCorrelationID(), dt, d)
}

// process runs the work of one event under a lease held by owner.
func (p *Provisioner) process(ctx context.Context, owner string, dt bus.DetailType, d bus.Detail) error {
	if !tenant.ValidID(d.TenantID) {
		return fmt.Errorf("provision: invalid tenant id %q", d.TenantID)
	}
	var work func(context.Context) error
	switch dt {
	case bus.TenantOnboardingRequested, bus.TenantProvisioningCheck:
		work = func(ctx context.Context) error { return p.onboard(ctx, d) }
	case bus.TenantTierChanged:
		work = func(ctx context.Context) error { return p.rebind(ctx, d) }
	case bus.TenantOffboardingRequested:
		work = func(ctx context.Context) error { return p.offboard(ctx, d) }
	case bus.TenantBackupRequested, bus.TenantRestoreRequested:
		if p.d.Backups == nil {
			p.d.Log.Error("dropping backup job event: this provisioner has no backup service", "tenantId", d.TenantID, "jobId", d.JobID, "detailType", string(dt))
			return nil
		}
		if !recovery.ValidJobID(d.JobID) {
			return permanent(fmt.Errorf("%s of tenant %s: %q is not a job id", dt, d.TenantID, d.JobID))
		}
		work = func(ctx context.Context) error { return p.runJob(ctx, d) }
	default:
		return nil // not ours
	}
	return p.withLease(ctx, d.TenantID, owner, work)
}

// scheduleBackups runs the backup schedule's tick: a backup request for
// every tenant that is due. It holds no lease (each request is a job of its
// tenant, run under that tenant's lease) and is never retried: the next
// tick is the retry, so failures are logged and the message is done.
func (p *Provisioner) scheduleBackups(ctx context.Context, messageID string) {
	log := p.d.Log.With("detailType", string(bus.BackupsDue), "messageId", messageID)
	if p.d.Backups == nil {
		log.Error("dropping backup schedule tick: this provisioner has no backup service")
		return
	}
	n, err := p.d.Backups.ScheduleBackups(ctx)
	if err != nil {
		log.Error("backup schedule: some tenants were not requested", "requested", n, "error", err.Error())
	} else {
		log.Info("backup schedule", "requested", n)
	}
	deleted, err := p.d.Backups.CleanupOldCopies(ctx)
	if err != nil {
		log.Error("old copies of migrated tenants: some were not deleted", "deleted", deleted, "error", err.Error())
		return
	}
	if deleted > 0 {
		log.Info("old copies of migrated tenants deleted", "deleted", deleted)
	}
}

// runJob advances a backup or restore job with the backup service. A job
// that must wait (the catalog TTL, the change feed, a clone's onboarding)
// is ErrLater: Handle re-sends the event, job id and all, with a delay. A
// job or tenant that does not exist never will (the job and its event are
// written together), so its event is done.
func (p *Provisioner) runJob(ctx context.Context, d bus.Detail) error {
	err := p.d.Backups.Run(ctx, d.TenantID, d.JobID)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, backup.ErrWaiting):
		return fmt.Errorf("%w: job %s: %w", ErrLater, d.JobID, err)
	case errors.Is(err, recovery.ErrJobNotFound), errors.Is(err, catalog.ErrNotFound):
		p.d.Log.Error("dropping backup job event: no such job", "tenantId", d.TenantID, "jobId", d.JobID, "error", err.Error())
		return nil
	}
	return fmt.Errorf("run job %s of tenant %s: %w", d.JobID, d.TenantID, err)
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
	// 1. The tenant's key, through the KMS API, for every tier, found again
	// by its alias (tenantkey.EnsureRecovering, after the marker).
	ensure := tenantkey.EnsureRecovering
	if !rec.KeyRequested {
		if rec, err = p.d.Catalog.Apply(ctx, rec.TenantID, store.Change{From: []catalog.Status{catalog.StatusProvisioning}, KeyRequested: true}, nil, nil); err != nil {
			return ignoreStatusChanged(err)
		}
		ensure = tenantkey.Ensure
	}
	keyARN, err := ensure(ctx, p.d.Keys, p.d.Settings.Stage, rec.TenantID, p.keyPolicy(rec.TenantID))
	if err != nil {
		return err
	}
	// 2. The placement.
	placement := catalog.Placement{Cell: rec.Placement.Cell, Table: p.d.Settings.PooledTable, KeyARN: keyARN}
	if rec.Tier == catalog.TierPremium {
		// Template: the version the stack runs (tenantstack.Version, unless
		// a stack of an earlier onboarding attempt was made from an older
		// template), which the fleet runner moves on.
		table, version, err := p.tables().ensureFrom(ctx, rec, keyARN, tenantstack.TemplateBody(), tenantstack.Version())
		if err != nil {
			return err
		}
		placement = catalog.Placement{Cell: rec.Placement.Cell, Table: table, Dedicated: true, KeyARN: keyARN, Template: version}
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

// bindKey puts the tenant's API key in the usage plan of its tier and
// records the key's value in the catalog, where the tenant authorizer reads
// it (the value is never logged).
func (p *Provisioner) bindKey(ctx context.Context, rec catalog.Record) error {
	k, err := p.d.APIKeys.Bind(ctx, rec.TenantID, rec.Tier)
	if errors.Is(err, apikey.ErrNoPlan) {
		return &failure{"no_usage_plan", "the deployment has no usage plan for the " + string(rec.Tier) + " tier", err}
	}
	if err != nil {
		return err
	}
	if k.Value != "" && rec.UsageKey != k.Value {
		from := []catalog.Status{catalog.StatusProvisioning, catalog.StatusActive, catalog.StatusSuspended, catalog.StatusRestoring, catalog.StatusMigrating}
		if _, err := p.d.Catalog.Apply(ctx, rec.TenantID, store.Change{From: from, UsageKey: k.Value}, nil, nil); err != nil {
			return ignoreStatusChanged(err)
		}
	}
	p.d.Log.Info("api key bound", "tenantId", rec.TenantID, "tier", string(rec.Tier), "apiKeyId", k.ID)
	return nil
}

// rebind follows a tier change: the key moves to the plan of the tier the
// catalog holds now (not the event's, which may be stale when changes come
// in quick succession), and a change across the pooled/dedicated line
// moves the tenant's data (migrate). Tenants on their way out keep what
// they have.
func (p *Provisioner) rebind(ctx context.Context, d bus.Detail) error {
	rec, err := p.d.Catalog.GetTenant(ctx, d.TenantID)
	if err != nil {
		return err
	}
	switch rec.Status {
	case catalog.StatusActive, catalog.StatusSuspended, catalog.StatusRestoring, catalog.StatusMigrating:
	default:
		return nil // onboarding binds the key itself; tenants on their way out keep theirs
	}
	if err := p.bindKey(ctx, rec); err != nil {
		return err
	}
	return p.migrate(ctx, rec, d)
}

// migrate starts or advances the tier migration of an ACTIVE (or
// MIGRATING) tenant whose placement does not fit its tier. One that must
// wait (the catalog caches, the feed, a stack) or that another job holds
// up is ErrLater: the tier change comes back, and resumes it.
func (p *Provisioner) migrate(ctx context.Context, rec catalog.Record, d bus.Detail) error {
	if rec.Status != catalog.StatusActive && rec.Status != catalog.StatusMigrating {
		return nil
	}
	if p.d.Backups == nil {
		if backup.Dedicated(rec.Tier) != rec.Placement.Dedicated {
			p.d.Log.Error("tier change needs a migration, but this provisioner has no backup service", "tenantId", rec.TenantID, "tier", string(rec.Tier))
		}
		return nil
	}
	job, err := p.d.Backups.Migrate(ctx, rec.TenantID, "provisioner", d.CorrelationID)
	switch {
	case err == nil:
		p.d.Log.Info("tier migration ended", "tenantId", rec.TenantID, "jobId", job.ID, "state", string(job.State), "reason", job.Reason)
		return nil
	case errors.Is(err, backup.ErrNoMigration), errors.Is(err, backup.ErrNotActive):
		return nil
	case errors.Is(err, backup.ErrWaiting), errors.Is(err, backup.ErrBusy):
		return fmt.Errorf("%w: migration of tenant %s: %w", ErrLater, rec.TenantID, err)
	}
	return fmt.Errorf("migrate tenant %s: %w", rec.TenantID, err)
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
	return access.TenantKeyPolicy(access.KeyPolicyParams{Stage: p.d.Settings.Stage, Partition: p.d.Partition, Account: p.d.Account, Region: p.d.Settings.Region(), TenantID: tenantID,
		DataAccessRoleARN: p.d.Settings.DataAccessRoleARN, AdminRoleARN: admin}).JSON()
}

// StackName is the CloudFormation stack of a premium tenant in stage (named
// as its table, access.DedicatedTable).
func StackName(stage, tenantID string) string { return access.DedicatedTable(stage, tenantID) }

// ensureStack creates the tenant's stack unless it exists and returns its
// table once the stack is complete. While CloudFormation works, it returns
// ErrLater: Handle puts a delayed re-check on the queue and the current
// message is done, so no Lambda waits for minutes.
func (p *Provisioner) ensureStack(ctx context.Context, rec catalog.Record, keyARN string) (string, error) {
	return p.tables().ensure(ctx, rec, keyARN)
}

// Tables makes, updates and removes tenants' dedicated tables through
// their TenantStacks: for onboarding and offboarding, for tier migrations
// (backup.DedicatedTables), and for the fleet runner's template rollouts
// (Update, in stackupdate.go).
type Tables struct {
	Stacks   CloudFormation
	Settings settings.Settings
	// Poll is how often Update and EnsureFrom read a stack's status while
	// CloudFormation works on it (default DefaultStackPoll).
	Poll time.Duration
}

// DefaultStackPoll is the default Tables.Poll: an update of a TenantStack
// takes tens of seconds in AWS (DescribeStacks allows a few calls a second
// per account, shared by every waiter).
const DefaultStackPoll = 5 * time.Second

func (t Tables) poll() time.Duration {
	if t.Poll > 0 {
		return t.Poll
	}
	return DefaultStackPoll
}

func (p *Provisioner) tables() Tables { return Tables{Stacks: p.d.Stacks, Settings: p.d.Settings} }

// Ensure creates rec's TenantStack (with the tenant's key) unless it
// exists and returns its table; while CloudFormation works the error wraps
// backup.ErrWaiting.
func (t Tables) Ensure(ctx context.Context, rec catalog.Record) (string, error) {
	table, err := t.ensure(ctx, rec, rec.Placement.KeyARN)
	if errors.Is(err, ErrLater) {
		return "", fmt.Errorf("%w: %w", backup.ErrWaiting, err)
	}
	return table, err
}

// Delete deletes the tenant's TenantStack, and so its table; while the
// deletion runs the error wraps backup.ErrWaiting.
func (t Tables) Delete(ctx context.Context, tenantID string) error {
	err := t.delete(ctx, tenantID)
	if errors.Is(err, ErrLater) {
		return fmt.Errorf("%w: %w", backup.ErrWaiting, err)
	}
	return err
}

// EnsureFrom is Ensure from another template of TenantStack (body, which
// records version; tenantstack.PreviousTemplateBody for a stack that a
// rollout then updates), and waits until CloudFormation has made the
// stack, reading it every Poll. For tests and tools; the provisioner and
// migrations make stacks from the current template (Ensure).
func (t Tables) EnsureFrom(ctx context.Context, rec catalog.Record, body, version string) (string, error) {
	for {
		table, _, err := t.ensureFrom(ctx, rec, rec.Placement.KeyARN, body, version)
		if !errors.Is(err, ErrLater) {
			return table, err
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("%w (%w)", ctx.Err(), err)
		case <-time.After(t.poll()):
		}
	}
}

func (t Tables) ensure(ctx context.Context, rec catalog.Record, keyARN string) (string, error) {
	table, _, err := t.ensureFrom(ctx, rec, keyARN, tenantstack.TemplateBody(), tenantstack.Version())
	return table, err
}

// ensureFrom creates rec's stack from body (of template version version)
// unless it exists, and returns its table and the version it runs
// (stackVersion) once it is complete, updated or rolled back to its
// previous version; ErrLater while CloudFormation works on it.
func (t Tables) ensureFrom(ctx context.Context, rec catalog.Record, keyARN, body, version string) (string, string, error) {
	name := StackName(t.Settings.Stage, rec.TenantID)
	st, err := t.describeStack(ctx, name)
	if err != nil {
		return "", "", err
	}
	if st == nil {
		_, err := t.Stacks.CreateStack(ctx, &cloudformation.CreateStackInput{
			StackName:    aws.String(name),
			TemplateBody: aws.String(body),
			Parameters: []cfntypes.Parameter{
				{ParameterKey: aws.String(tenantstack.ParamStage), ParameterValue: aws.String(t.Settings.Stage)},
				{ParameterKey: aws.String(tenantstack.ParamTenantID), ParameterValue: aws.String(rec.TenantID)},
				{ParameterKey: aws.String(tenantstack.ParamKeyArn), ParameterValue: aws.String(keyARN)},
				// The table's stream goes to the change feed when both are
				// set (settings.CheckChangeFeed); empty, as locally, the
				// stack has no mapping, as with the parameters' defaults.
				{ParameterKey: aws.String(tenantstack.ParamChangeFeedFunctionArn), ParameterValue: aws.String(t.Settings.ChangeFeedFunctionARN)},
				{ParameterKey: aws.String(tenantstack.ParamChangeFeedDLQArn), ParameterValue: aws.String(t.Settings.ChangeFeedDLQARN)},
			},
			// CloudFormation gives the stack's tags to its resources too.
			Tags: []cfntypes.Tag{
				{Key: aws.String(access.TenantTag), Value: aws.String(rec.TenantID)},
				{Key: aws.String(access.StageTag), Value: aws.String(t.Settings.Stage)},
			},
			ClientRequestToken: aws.String("create-" + rec.TenantID),
			OnFailure:          cfntypes.OnFailureDelete,
		})
		var exists *cfntypes.AlreadyExistsException
		if err != nil && !errors.As(err, &exists) {
			return "", "", fmt.Errorf("create stack %s: %w", name, err)
		}
		if st, err = t.describeStack(ctx, name); err != nil {
			return "", "", err
		}
		if st == nil {
			return "", "", fmt.Errorf("stack %s not found after create", name)
		}
	}
	switch st.StackStatus {
	// A stack whose update CloudFormation rolled back is usable: it runs
	// its previous version.
	case cfntypes.StackStatusCreateComplete, cfntypes.StackStatusUpdateComplete, cfntypes.StackStatusUpdateRollbackComplete:
		if table := output(st, tenantstack.OutputTableName); table != "" {
			return table, stackVersion(st), nil
		}
		return "", "", fmt.Errorf("stack %s has no %s output", name, tenantstack.OutputTableName)
	// Being made, or being updated by the fleet runner (the table keeps
	// serving meanwhile; the outputs settle when the update ends).
	case cfntypes.StackStatusCreateInProgress, cfntypes.StackStatusUpdateInProgress, cfntypes.StackStatusUpdateCompleteCleanupInProgress,
		cfntypes.StackStatusUpdateRollbackInProgress, cfntypes.StackStatusUpdateRollbackCompleteCleanupInProgress:
		return "", "", fmt.Errorf("%w: stack %s is %s", ErrLater, name, st.StackStatus)
	default:
		return "", "", &failure{"stack_failed", fmt.Sprintf("the tenant's stack %s is %s: %s", name, st.StackStatus, aws.ToString(st.StackStatusReason)), nil}
	}
}
