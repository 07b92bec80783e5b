package backup_test

import (
	"testing"
	"time"

	"github.com/tessera-saas/tessera/internal/control/backup"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/recovery"
)

// TestScheduleRequestsTheBackupsThatAreDue: the schedule requests a backup
// of a tenant never backed up, not of one backed up within its tier's
// interval (basic: 24 h), nor twice while one is queued; a day later the
// second is due too.
func TestScheduleRequestsTheBackupsThatAreDue(t *testing.T) {
	h := newHarness(t)
	never := fixture.NewTenant(t, h.e, "ScheduleNever").Record
	recent := fixture.NewTenant(t, h.e, "ScheduleRecent").Record
	h.backupNow(t, recent.TenantID)

	scheduled := func(svc *backup.Service, tenantID string) []recovery.Job {
		t.Helper()
		jobs, err := svc.Jobs(bg, tenantID)
		if err != nil {
			t.Fatal(err)
		}
		var out []recovery.Job
		for _, j := range jobs {
			if j.Trigger == recovery.TriggerSchedule {
				out = append(out, j)
			}
		}
		return out
	}
	for round := 1; round <= 2; round++ {
		if _, err := h.svc.ScheduleBackups(bg); err != nil {
			t.Fatal(err)
		}
		if got := scheduled(h.svc, never.TenantID); len(got) != 1 || got[0].State != recovery.StateQueued || got[0].Actor != "schedule" {
			t.Fatalf("round %d: the tenant never backed up has scheduled jobs %+v, want one queued", round, got)
		}
		if got := scheduled(h.svc, recent.TenantID); len(got) != 0 {
			t.Fatalf("round %d: the tenant backed up just now got %+v", round, got)
		}
	}
	later := h.deps
	later.Now = func() time.Time { return time.Now().Add(25 * time.Hour) }
	tomorrow := backup.New(later)
	if _, err := tomorrow.ScheduleBackups(bg); err != nil {
		t.Fatal(err)
	}
	if got := scheduled(tomorrow, recent.TenantID); len(got) != 1 {
		t.Fatalf("a day later: %+v, want one scheduled backup", got)
	}
	if got := scheduled(tomorrow, never.TenantID); len(got) != 1 {
		t.Fatalf("a day later the first tenant's queued job was doubled: %+v", got)
	}
}
