package provision_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/tessera-saas/tessera/internal/control/backup"
	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/control/provision"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/awsconfig"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/recovery"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// scriptedJobs is the backup service as the provisioner sees it: Run
// answers from a script and records what it was asked.
type scriptedJobs struct {
	mu       sync.Mutex
	results  []error // one per call; nil past the end
	calls    [][2]string
	ticks    int
	cleanups int
	tickErr  error

	migrateResults []error
	migrations     []string
}

func (s *scriptedJobs) ScheduleBackups(context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ticks++
	return 3, s.tickErr
}

// Migrate answers from migrateResults in turn, and ErrNoMigration past
// their end (the engine's own tests cover migrations).
func (s *scriptedJobs) Migrate(_ context.Context, tenantID, _, _ string) (recovery.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.migrations = append(s.migrations, tenantID)
	if n := len(s.migrations); n <= len(s.migrateResults) {
		return recovery.Job{ID: "j-m", State: recovery.StateSucceeded}, s.migrateResults[n-1]
	}
	return recovery.Job{}, backup.ErrNoMigration
}

func (s *scriptedJobs) CleanupOldCopies(context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups++
	return 0, nil
}

func (s *scriptedJobs) Run(_ context.Context, tenantID, jobID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, [2]string{tenantID, jobID})
	if n := len(s.calls); n <= len(s.results) {
		return s.results[n-1]
	}
	return nil
}

// jobEvent is the detail of a backup or restore request of a new job.
func jobEvent(rec catalog.Record) bus.Detail {
	return bus.Detail{SchemaVersion: bus.SchemaVersion, TenantID: rec.TenantID, Tier: string(rec.Tier),
		CorrelationID: "test-" + rec.TenantID, JobID: recovery.NewJobID()}
}

// resent receives the one message on the queue (a delayed re-send) and
// deletes it.
func (h harness) resent(t *testing.T, q *sqs.Client, url string) (bus.Envelope, events.SQSMessage) {
	t.Helper()
	msg, err := q.ReceiveMessage(h.ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, WaitTimeSeconds: 5, MaxNumberOfMessages: 10})
	if err != nil || len(msg.Messages) != 1 {
		t.Fatalf("received %d re-sends (%v), want 1", len(msg.Messages), err)
	}
	m := msg.Messages[0]
	_, _ = q.DeleteMessage(h.ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle})
	env, err := bus.Parse([]byte(aws.ToString(m.Body)))
	if err != nil {
		t.Fatalf("re-send does not parse: %v", err)
	}
	return env, events.SQSMessage{MessageId: aws.ToString(m.MessageId), Body: aws.ToString(m.Body),
		Attributes: map[string]string{"ApproximateReceiveCount": "1"}}
}

// TestBackupJobEventsRunTheirJob: the provisioner hands a backup or restore
// request to the backup service with the event's tenant and job. A job
// that must wait (backup.ErrWaiting) is acknowledged and re-sent to the
// provisioner's own queue, with a delay, as the same event with the same
// job and the next attempt, until it is done; a job that does not exist is
// dropped; a transient failure comes back as a batch item failure.
func TestBackupJobEventsRunTheirJob(t *testing.T) {
	h := newHarness(t)
	_, rec, _ := h.onboarded(t, catalog.TierBasic)
	waiting := fmt.Errorf("restore: %w: catalog caches may hold the tenant as active for 29s more", backup.ErrWaiting)
	tests := []struct {
		name    string
		dt      bus.DetailType
		results []error
		resends int  // re-sends before the job is done
		failed  bool // the delivery is a batch item failure
	}{
		{"restore that must wait", bus.TenantRestoreRequested, []error{waiting, waiting}, 2, false},
		{"backup that must wait", bus.TenantBackupRequested, []error{waiting}, 1, false},
		{"backup done at once", bus.TenantBackupRequested, nil, 0, false},
		{"no such job", bus.TenantRestoreRequested, []error{fmt.Errorf("get job: %w", recovery.ErrJobNotFound)}, 0, false},
		{"transient failure", bus.TenantBackupRequested, []error{errors.New("ThrottlingException: slow down")}, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			deps := h.deps()
			q, url := h.testQueue(t)
			deps.QueueURL, deps.CheckDelay = url, time.Second
			jobs := &scriptedJobs{results: tc.results}
			deps.Backups = jobs
			p := provision.New(deps)
			d := jobEvent(rec)
			m := sqsRecord(t, tc.dt, d, 1)
			for attempt := 1; ; attempt++ {
				resp, err := p.Handle(h.ctx, events.SQSEvent{Records: []events.SQSMessage{m}})
				if err != nil {
					t.Fatal(err)
				}
				if failed := len(resp.BatchItemFailures) == 1; failed != tc.failed {
					t.Fatalf("delivery %d: batch item failures %+v, want failed %v", attempt, resp.BatchItemFailures, tc.failed)
				}
				if attempt > tc.resends {
					break
				}
				env, next := h.resent(t, q, url)
				want := d
				want.Attempt = attempt
				if env.DetailType != string(tc.dt) || env.Detail != want {
					t.Fatalf("re-send %d: %s %+v, want %s %+v", attempt, env.DetailType, env.Detail, tc.dt, want)
				}
				m = next
			}
			if n := h.delayed(t, q, url); n != "0" {
				t.Fatalf("%s messages delayed after the job was done, want none", n)
			}
			if len(jobs.calls) != tc.resends+1 {
				t.Fatalf("Run called %d times, want %d", len(jobs.calls), tc.resends+1)
			}
			for _, c := range jobs.calls {
				if c != [2]string{rec.TenantID, d.JobID} {
					t.Fatalf("Run(%s, %s), want Run(%s, %s)", c[0], c[1], rec.TenantID, d.JobID)
				}
			}
		})
	}
}

// TestBackupJobEventsWithoutAServiceAreDropped: a provisioner without a
// backup service acknowledges backup and restore requests with an error
// log, and sends nothing.
func TestBackupJobEventsWithoutAServiceAreDropped(t *testing.T) {
	h := newHarness(t)
	_, rec, _ := h.onboarded(t, catalog.TierBasic)
	var logs bytes.Buffer
	deps := h.deps()
	q, url := h.testQueue(t)
	deps.QueueURL, deps.Backups, deps.Log = url, nil, slog.New(slog.NewJSONHandler(&logs, nil))
	p := provision.New(deps)
	for _, dt := range []bus.DetailType{bus.TenantBackupRequested, bus.TenantRestoreRequested} {
		resp, err := p.Handle(h.ctx, events.SQSEvent{Records: []events.SQSMessage{sqsRecord(t, dt, jobEvent(rec), 1)}})
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("%s: %+v, %v; want it acknowledged", dt, resp, err)
		}
	}
	if n := strings.Count(logs.String(), `"level":"ERROR","msg":"dropping backup job event`); n != 2 {
		t.Fatalf("%d error logs of dropped events, want 2:\n%s", n, logs.String())
	}
	if n := h.delayed(t, q, url); n != "0" {
		t.Fatalf("%s messages sent, want none", n)
	}
}

// handOver is the engine's publisher in a test that delivers the events to
// the provisioner itself: it keeps each event the engine announces and
// takes it out of the outbox (as a publish would), so that nothing reaches
// the deployment's bus and its provisioning queue.
type handOver struct {
	cat    *store.Catalog
	mu     sync.Mutex
	events []store.OutboxEvent
}

func (h *handOver) PublishOrKeep(ctx context.Context, ev *store.OutboxEvent) {
	h.mu.Lock()
	h.events = append(h.events, *ev)
	h.mu.Unlock()
	_ = h.cat.EventPublished(ctx, *ev)
}

// last is the newest event announced, as the bus delivers it to the
// provisioning queue.
func (h *handOver) last(t *testing.T) events.SQSMessage {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.events) == 0 {
		t.Fatal("the engine announced no event")
	}
	ev := h.events[len(h.events)-1]
	var d bus.Detail
	if err := json.Unmarshal([]byte(ev.Detail), &d); err != nil {
		t.Fatal(err)
	}
	return sqsRecord(t, bus.DetailType(ev.DetailType), d, 1)
}

// TestRestoreWaitingOnTheEngineIsResentWithItsJob runs the real engine: a
// backup request is run to its end (a snapshot), then an in-place restore
// request makes the tenant read-only and must wait (for the catalog TTL of
// every process, and the change feed, which no pump plays here): its
// delivery is acknowledged and the event re-sent with its job id.
func TestRestoreWaitingOnTheEngineIsResentWithItsJob(t *testing.T) {
	h := newHarness(t)
	_, rec, _ := h.onboarded(t, catalog.TierBasic)
	deps := h.deps()
	q, url := h.testQueue(t)
	deps.QueueURL, deps.CheckDelay = url, time.Second
	pub := &handOver{cat: deps.Catalog}
	engine := backup.New(backup.Deps{Catalog: deps.Catalog, Data: deps.Data,
		Creds:   access.NewCredentials(sts.NewFromConfig(h.e.Config), h.e.Settings.DataAccessRoleARN),
		Objects: awsconfig.NewS3(h.e.Config), Bucket: h.e.Settings.BackupBucket, Pub: pub,
		CatalogTTL: time.Hour, Wait: time.Second, Log: quiet})
	deps.Backups = engine
	p := provision.New(deps)

	job, err := engine.RequestBackup(h.ctx, rec.TenantID, "test", "", recovery.TriggerOperator)
	if err != nil {
		t.Fatal(err)
	}
	m := pub.last(t)
	if env, err := bus.Parse([]byte(m.Body)); err != nil || env.DetailType != string(bus.TenantBackupRequested) || env.Detail.JobID != job.ID {
		t.Fatalf("backup request announced as %+v (%v), want %s of job %s", env, err, bus.TenantBackupRequested, job.ID)
	}
	resp, err := p.Handle(h.ctx, events.SQSEvent{Records: []events.SQSMessage{m}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("backup: %+v, %v", resp, err)
	}
	if job, err = engine.Job(h.ctx, rec.TenantID, job.ID); err != nil || job.State != recovery.StateSucceeded {
		t.Fatalf("backup job = %+v, %v; want SUCCEEDED", job, err)
	}

	time.Sleep(10 * time.Millisecond) // a target time after the snapshot
	job, err = engine.RequestRestore(h.ctx, backup.RestoreRequest{TenantID: rec.TenantID, To: time.Now(), Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	m = pub.last(t)
	requested, err := bus.Parse([]byte(m.Body))
	if err != nil || requested.DetailType != string(bus.TenantRestoreRequested) || requested.Detail.JobID != job.ID {
		t.Fatalf("restore request announced as %+v (%v), want %s of job %s", requested, err, bus.TenantRestoreRequested, job.ID)
	}
	resp, err = p.Handle(h.ctx, events.SQSEvent{Records: []events.SQSMessage{m}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("restore: %+v, %v; want it acknowledged with a re-send", resp, err)
	}
	env, _ := h.resent(t, q, url)
	want := requested.Detail
	want.Attempt = 1
	if env.DetailType != string(bus.TenantRestoreRequested) || env.Detail != want {
		t.Fatalf("re-send: %s %+v, want %s %+v", env.DetailType, env.Detail, bus.TenantRestoreRequested, want)
	}
	if st := h.record(t, rec.TenantID).Status; st != catalog.StatusRestoring {
		t.Fatalf("tenant is %s while its restore waits, want %s", st, catalog.StatusRestoring)
	}
	if job, err = engine.Job(h.ctx, rec.TenantID, job.ID); err != nil || job.State.Done() {
		t.Fatalf("restore job = %+v, %v; want it still running", job, err)
	}
	// The catalog's lease is free again for the re-send (and any other
	// work on the tenant).
	if err := deps.Catalog.Lease(h.ctx, rec.TenantID, "test-owner", time.Second); err != nil {
		t.Fatalf("lease after the run: %v", err)
	}
	_ = deps.Catalog.Release(h.ctx, rec.TenantID, "test-owner")
}

// TestBackupScheduleTickRunsTheScheduleOnce: the schedule's BackupsDue
// message (the body the infra rule sends) makes the provisioner run the
// schedule once, and the cleanup of migrated tenants' old copies once, under
// no tenant; it is acknowledged even when the schedule fails (the next tick is the retry), and nothing is re-sent.
func TestBackupScheduleTickRunsTheScheduleOnce(t *testing.T) {
	h := newHarness(t)
	body := `{"version":"0","id":"e-1","detail-type":"BackupsDue","source":"tessera.control-plane","account":"000000000000",` +
		`"time":"2026-12-02T05:00:00Z","region":"us-east-1","resources":[],"detail":{"schemaVersion":1,"correlationId":"e-1"}}`
	for _, tickErr := range []error{nil, errors.New("catalog unavailable")} {
		deps := h.deps()
		q, url := h.testQueue(t)
		var logs bytes.Buffer
		jobs := &scriptedJobs{tickErr: tickErr}
		deps.QueueURL, deps.Backups, deps.Log = url, jobs, slog.New(slog.NewJSONHandler(&logs, nil))
		resp, err := provision.New(deps).Handle(h.ctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m-1", Body: body,
			Attributes: map[string]string{"ApproximateReceiveCount": "1"}}}})
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("tick (schedule error %v): %+v, %v; want it acknowledged", tickErr, resp, err)
		}
		if jobs.ticks != 1 || jobs.cleanups != 1 || len(jobs.calls) != 0 {
			t.Fatalf("schedule ran %d times, old-copy cleanup %d times, %d jobs run; want 1, 1 and 0", jobs.ticks, jobs.cleanups, len(jobs.calls))
		}
		if tickErr != nil && !strings.Contains(logs.String(), "catalog unavailable") {
			t.Errorf("the schedule's failure is not logged: %s", logs.String())
		}
		if n := h.delayed(t, q, url); n != "0" {
			t.Fatalf("%s messages sent, want none", n)
		}
	}
}

// TestTierChangeRunsTheMigration: a tier change hands the tenant to the
// backup service's Migrate after moving its key; a migration that must wait
// (the catalog caches, the change feed, a stack) is acknowledged and the
// tier change re-sent with a delay, which resumes it.
func TestTierChangeRunsTheMigration(t *testing.T) {
	h := newHarness(t)
	_, rec, _ := h.onboarded(t, catalog.TierBasic)
	deps := h.deps()
	if _, err := deps.Catalog.Apply(h.ctx, rec.TenantID, store.Change{Tier: catalog.TierPremium}, nil, nil); err != nil {
		t.Fatal(err)
	}
	q, url := h.testQueue(t)
	deps.QueueURL, deps.CheckDelay = url, time.Second
	waiting := fmt.Errorf("migration: %w: records cached before the migration began may be used for 31s more", backup.ErrWaiting)
	jobs := &scriptedJobs{migrateResults: []error{waiting, nil}}
	deps.Backups = jobs
	p := provision.New(deps)
	d := bus.Detail{SchemaVersion: bus.SchemaVersion, TenantID: rec.TenantID, Tier: string(catalog.TierPremium), CorrelationID: "c-tier", PreviousTier: string(catalog.TierBasic)}
	resp, err := p.Handle(h.ctx, events.SQSEvent{Records: []events.SQSMessage{sqsRecord(t, bus.TenantTierChanged, d, 1)}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("first delivery: %+v, %v; want it acknowledged", resp, err)
	}
	h.assertKeyIn(t, rec.TenantID, catalog.TierPremium)
	env, next := h.resent(t, q, url)
	if env.DetailType != string(bus.TenantTierChanged) || env.Detail.TenantID != rec.TenantID || env.Detail.Attempt != 1 {
		t.Fatalf("re-sent %s %+v, want the tier change again, attempt 1", env.DetailType, env.Detail)
	}
	if resp, err := p.Handle(h.ctx, events.SQSEvent{Records: []events.SQSMessage{next}}); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("re-sent delivery: %+v, %v", resp, err)
	}
	if len(jobs.migrations) != 2 || jobs.migrations[0] != rec.TenantID || jobs.migrations[1] != rec.TenantID {
		t.Fatalf("Migrate calls %v, want two for %s", jobs.migrations, rec.TenantID)
	}
	if n := h.delayed(t, q, url); n != "0" {
		t.Fatalf("%s messages left, want none once the migration ended", n)
	}
}
