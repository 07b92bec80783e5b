package backup_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tessera-saas/tessera/internal/control/backup"
	"github.com/tessera-saas/tessera/internal/control/bus"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/product"
	"github.com/tessera-saas/tessera/internal/platform/recovery"
)

// stepUntil runs the job's phases one at a time until it has taken n steps
// (a step that must wait is tried again) or ended, and returns it as saved:
// then the test "crashes" the process by dropping everything but the
// catalog and the buckets.
func (h *harness) stepUntil(t *testing.T, tenantID, jobID string, n int) recovery.Job {
	t.Helper()
	job, err := h.svc.Job(bg, tenantID, jobID)
	if err != nil {
		t.Fatal(err)
	}
	for steps := 0; steps < n && !job.State.Done(); {
		next, err := h.svc.Step(bg, job)
		if errors.Is(err, backup.ErrWaiting) {
			if job, err = h.svc.Job(bg, tenantID, jobID); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("step %d (%s): %v", steps+1, job.Phase, err)
		}
		job = next
		steps++
	}
	return job
}

// TestCrashBetweenAnyTwoStepsEndsConsistent: a restore stopped after each
// of its steps in turn and then run again by a new service (a new process)
// ends with the tenant active and its items exactly those of the target
// time; while stopped, the tenant is never active with items half written.
func TestCrashBetweenAnyTwoStepsEndsConsistent(t *testing.T) {
	h := newHarness(t)
	acme := fixture.NewTenant(t, h.e, "CrashAcme").Record
	points, views := h.history(t, acme.TenantID)
	seen := map[recovery.Phase]bool{}
	for n := 1; ; n++ {
		target := n % 2 // alternate targets, so every restore changes items
		job, err := h.svc.RequestRestore(bg, backup.RestoreRequest{TenantID: acme.TenantID, To: points[target], Actor: "op-1"})
		if err != nil {
			t.Fatal(err)
		}
		stopped := h.stepUntil(t, acme.TenantID, job.ID, n)
		seen[stopped.Phase] = true
		rec, err := h.cat.GetTenant(bg, acme.TenantID)
		if err != nil {
			t.Fatal(err)
		}
		if !stopped.State.Done() && stopped.Phase != recovery.PhaseQueued && stopped.Phase != recovery.PhaseFence && rec.Status != catalog.StatusRestoring {
			t.Fatalf("stopped at %s with the tenant %s, want RESTORING", stopped.Phase, rec.Status)
		}
		again := backup.New(h.deps) // a new process
		if err := again.Run(bg, acme.TenantID, job.ID); err != nil {
			t.Fatalf("resume after step %d (%s): %v", n, stopped.Phase, err)
		}
		done, err := again.Job(bg, acme.TenantID, job.ID)
		if err != nil || done.State != recovery.StateSucceeded {
			t.Fatalf("resumed after step %d (%s): %+v, %v", n, stopped.Phase, done, err)
		}
		if rec, err := h.cat.GetTenant(bg, acme.TenantID); err != nil || rec.Status != catalog.StatusActive {
			t.Fatalf("after resume: %+v, %v", rec, err)
		}
		if got := h.view(t, acme.TenantID); got != views[target] {
			t.Fatalf("resumed after step %d (%s):\n got %s\nwant %s", n, stopped.Phase, got, views[target])
		}
		if stopped.State.Done() {
			break
		}
	}
	for _, p := range []recovery.Phase{recovery.PhaseFence, recovery.PhaseDrain, recovery.PhaseSafety, recovery.PhaseApply, recovery.PhaseDone} {
		if !seen[p] {
			t.Errorf("no crash was played at phase %s (saw %v)", p, seen)
		}
	}
}

// TestHalfAppliedRestoreResumesOrRollsBack: a restore stopped midway
// through writing resumes to the exact target; one whose snapshot then
// proves corrupt rolls the tenant back to its items before the restore,
// active again, with a TenantRestoreFailed event and audit entries.
func TestHalfAppliedRestoreResumesOrRollsBack(t *testing.T) {
	h := newHarness(t)
	acme := fixture.NewTenant(t, h.e, "HalfAcme").Record
	points, views := h.history(t, acme.TenantID)
	halfway := func(to int) recovery.Job {
		job, err := h.svc.RequestRestore(bg, backup.RestoreRequest{TenantID: acme.TenantID, To: points[to], Actor: "op-1"})
		if err != nil {
			t.Fatal(err)
		}
		for {
			job = h.stepUntil(t, acme.TenantID, job.ID, 1)
			if job.Phase == recovery.PhaseApply {
				break
			}
		}
		// What a crash midway through writing leaves: some items written,
		// some not (written here directly, as the restore's own session).
		d := h.as(t, acme.TenantID)
		if _, err := d.CreateProduct(bg, product.Input{Name: "Half written", SKU: "H-1", Price: &product.Price{Amount: 1, Currency: "EUR"}}); err != nil {
			t.Fatal(err)
		}
		return job
	}

	job := halfway(0)
	if err := backup.New(h.deps).Run(bg, acme.TenantID, job.ID); err != nil {
		t.Fatal(err)
	}
	if got := h.view(t, acme.TenantID); got != views[0] {
		t.Fatalf("resumed:\n got %s\nwant %s", got, views[0])
	}
	beforeSecond := h.view(t, acme.TenantID)

	// The second restore's source snapshot is corrupted after it began.
	job = halfway(1)
	snaps, err := h.svc.Snapshots(bg, acme.TenantID)
	if err != nil {
		t.Fatal(err)
	}
	part := snaps[0].Parts[0].Key
	if !strings.Contains(part, "/snapshots/") {
		t.Fatalf("part key %s", part)
	}
	if _, err := h.objects.PutObject(bg, &s3.PutObjectInput{Bucket: aws.String(h.e.Settings.BackupBucket), Key: aws.String(part),
		Body: bytes.NewReader([]byte("{}\n"))}); err != nil {
		t.Fatal(err)
	}
	if err := backup.New(h.deps).Run(bg, acme.TenantID, job.ID); err != nil {
		t.Fatal(err)
	}
	ended, err := h.svc.Job(bg, acme.TenantID, job.ID)
	if err != nil || ended.State != recovery.StateRolledBack || !strings.Contains(ended.Reason, "checksum") {
		t.Fatalf("job = %+v, %v", ended, err)
	}
	rec, err := h.cat.GetTenant(bg, acme.TenantID)
	if err != nil || rec.Status != catalog.StatusActive {
		t.Fatalf("tenant = %+v, %v", rec, err)
	}
	if got := h.view(t, acme.TenantID); got != beforeSecond {
		t.Fatalf("rolled back:\n got %s\nwant %s", got, beforeSecond)
	}
	pending, err := h.cat.PendingEvents(bg, time.Now().Add(time.Minute), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var failed bool
	for _, ev := range pending {
		failed = failed || (ev.DetailType == string(bus.TenantRestoreFailed) && strings.Contains(string(ev.Detail), job.ID))
	}
	if !failed {
		t.Errorf("no TenantRestoreFailed event of job %s in the outbox (%d pending)", job.ID, len(pending))
	}
}
