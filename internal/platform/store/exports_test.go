package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/crypto"
	"github.com/tessera-saas/tessera/internal/platform/export"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// TestExportTransitions walks an export record through its conditional
// transitions: a run takes it once, a second run is refused while the
// lease holds and takes over once it has run out, only the holder finishes
// it, and a finished export is never started again.
func TestExportTransitions(t *testing.T) {
	h := newHarness(t)
	acme := fixture.NewTenant(t, h.e, "acme").Record
	globex := fixture.NewTenant(t, h.e, "globex").Record
	data := h.as(acme)

	e, err := data.CreateExport(bg)
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != export.StatusQueued || e.CreatedAt.IsZero() || e.StartedAt != nil || e.FinishedAt != nil {
		t.Fatalf("created = %+v", e)
	}
	if items := h.partition(t, acme.TenantID+"#EXPORT"); len(items) != 1 {
		t.Fatalf("export not stored under %s#EXPORT: %v", acme.TenantID, items)
	}
	if _, err := h.as(globex).GetExport(bg, e.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("globex reads acme's export: err = %v, want ErrNotFound", err)
	}
	if _, err := h.as(globex).StartExport(bg, e.ID, "run-g", time.Now().Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("globex starts acme's export: err = %v, want ErrNotFound", err)
	}

	running, err := data.StartExport(bg, e.ID, "run-1", time.Now().Add(time.Hour))
	if err != nil || running.Status != export.StatusRunning || running.StartedAt == nil {
		t.Fatalf("start = %+v, %v", running, err)
	}
	if _, err := data.StartExport(bg, e.ID, "run-2", time.Now().Add(time.Hour)); !errors.Is(err, store.ErrExportRunning) {
		t.Fatalf("second start under a live lease: err = %v, want ErrExportRunning", err)
	}
	if _, err := data.FinishExport(bg, e.ID, "run-2", 1, "x"); !errors.Is(err, store.ErrExportNotOurs) {
		t.Fatalf("finish by a run that does not hold it: err = %v, want ErrExportNotOurs", err)
	}
	if err := data.DeleteQueuedExport(bg, e.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete of a running export: err = %v, want ErrNotFound", err)
	}

	// run-1 crashed: once its lease has run out, run-3 takes over.
	later := store.New(h.ddb, crypto.NewEnvelope(kms.NewFromConfig(h.e.Config)), store.WithCredentials(h.creds),
		store.WithClock(func() time.Time { return time.Now().Add(2 * time.Hour) }))
	if _, err := (harness{s: later}).as(acme).StartExport(bg, e.ID, "run-3", time.Now().Add(3*time.Hour)); err != nil {
		t.Fatalf("take over after the lease: %v", err)
	}
	if _, err := data.FinishExport(bg, e.ID, "run-1", 1, "x"); !errors.Is(err, store.ErrExportNotOurs) {
		t.Fatalf("finish by the run that lost its lease: err = %v, want ErrExportNotOurs", err)
	}
	key := export.ObjectKey(acme.TenantID, e.ID)
	done, err := data.FinishExport(bg, e.ID, "run-3", 42, key)
	if err != nil || done.Status != export.StatusDone || done.ItemCount != 42 || done.ObjectKey != key || done.FinishedAt == nil {
		t.Fatalf("finish = %+v, %v", done, err)
	}
	if _, err := (harness{s: later}).as(acme).StartExport(bg, e.ID, "run-4", time.Now().Add(3*time.Hour)); !errors.Is(err, store.ErrExportFinished) {
		t.Fatalf("start of a DONE export: err = %v, want ErrExportFinished", err)
	}
	if _, err := data.FailExport(bg, e.ID, "run-3", export.ReasonFailed); !errors.Is(err, store.ErrExportNotOurs) {
		t.Fatalf("fail of a DONE export: err = %v, want ErrExportNotOurs", err)
	}
	got, err := data.GetExport(bg, e.ID)
	if err != nil || got.Status != export.StatusDone || got.ItemCount != 42 {
		t.Fatalf("get = %+v, %v", got, err)
	}
}

func TestExportRequeueFailAndDelete(t *testing.T) {
	h := newHarness(t)
	acme := fixture.NewTenant(t, h.e, "acme").Record
	data := h.as(acme)
	tests := []struct {
		name string
		// act moves a fresh export and returns the error to expect nil.
		act        func(id string) error
		wantStatus export.Status
		wantGone   bool
	}{
		{name: "requeue by the holder", wantStatus: export.StatusQueued, act: func(id string) error {
			if _, err := data.StartExport(bg, id, "r", time.Now().Add(time.Hour)); err != nil {
				return err
			}
			if err := data.RequeueExport(bg, id, "other"); !errors.Is(err, store.ErrExportNotOurs) {
				return errors.Join(errors.New("requeue by a stranger succeeded"), err)
			}
			return data.RequeueExport(bg, id, "r")
		}},
		{name: "fail a queued export", wantStatus: export.StatusFailed, act: func(id string) error {
			_, err := data.FailExport(bg, id, "", export.ReasonTenantNotActive)
			return err
		}},
		{name: "fail a running export by its holder", wantStatus: export.StatusFailed, act: func(id string) error {
			if _, err := data.StartExport(bg, id, "r", time.Now().Add(time.Hour)); err != nil {
				return err
			}
			if _, err := data.FailExport(bg, id, "", export.ReasonFailed); !errors.Is(err, store.ErrExportNotOurs) {
				return errors.Join(errors.New("fail without the run id succeeded"), err)
			}
			_, err := data.FailExport(bg, id, "r", export.ReasonFailed)
			return err
		}},
		{name: "delete a queued export", wantGone: true, act: func(id string) error {
			return data.DeleteQueuedExport(bg, id)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := data.CreateExport(bg)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.act(e.ID); err != nil {
				t.Fatal(err)
			}
			got, err := data.GetExport(bg, e.ID)
			if tc.wantGone {
				if !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("get after delete = %+v, %v", got, err)
				}
				return
			}
			if err != nil || got.Status != tc.wantStatus {
				t.Fatalf("get = %+v, %v; want %s", got, err, tc.wantStatus)
			}
			if got.Status == export.StatusFailed && (got.Reason == "" || got.FinishedAt == nil) {
				t.Fatalf("failed export without reason or finish time: %+v", got)
			}
		})
	}
}
