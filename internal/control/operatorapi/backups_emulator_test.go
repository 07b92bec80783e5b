package operatorapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/recovery"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// TestBackupRoutesOnTheEngine drives the backup routes of the composed
// tenants function (wire.NewTenants, the real engine) on the emulator: the
// errors the engine returns are the ones the handler maps. No process runs
// the jobs here, so a requested backup stays QUEUED.
func TestBackupRoutesOnTheEngine(t *testing.T) {
	s := newSuite(t)
	h := s.tenants(t)
	acme := fixture.NewTenant(t, s.e, "acme").Record
	byID := map[string]string{"id": acme.TenantID}
	call := func(method, resource string, params map[string]string, body string) result {
		t.Helper()
		return doTenants(t, h, operatorRequest(t, method, resource, params, body, "operators"))
	}
	past := `{"to":"` + time.Now().Add(-time.Minute).UTC().Format(time.RFC3339) + `"}`

	if r := call("GET", "/v1/tenants/{id}/backups", byID, ""); r.Status != http.StatusOK || r.Body["items"] == nil || len(r.Body["items"].([]any)) != 0 {
		t.Fatalf("backups before any = %+v, want 200 and no items", r)
	}
	if r := call("POST", "/v1/tenants/{id}/restores", byID, past); r.Status != http.StatusConflict || r.Code != edge.CodeNoBackup {
		t.Fatalf("restore without a backup = %+v, want 409 no_backup", r)
	}
	future := `{"to":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"}`
	if r := call("POST", "/v1/tenants/{id}/restores", byID, future); r.Status != http.StatusBadRequest || r.Code != edge.CodeValidation {
		t.Fatalf("restore to the future = %+v, want 400 validation_failed", r)
	}

	b := call("POST", "/v1/tenants/{id}/backups", byID, "")
	if b.Status != http.StatusAccepted || b.Body["kind"] != "backup" || b.Body["state"] != "QUEUED" || b.Body["trigger"] != "operator" ||
		b.Body["tenantId"] != acme.TenantID || b.Body["actor"] == "" {
		t.Fatalf("backup = %+v, want 202 and a QUEUED operator backup", b)
	}
	jobID, _ := b.Body["jobId"].(string)
	if !recovery.ValidJobID(jobID) {
		t.Fatalf("jobId %q", jobID)
	}
	if r := call("POST", "/v1/tenants/{id}/backups", byID, ""); r.Status != http.StatusConflict || r.Code != edge.CodeJobRunning {
		t.Errorf("second backup while one is queued = %+v, want 409 job_running", r)
	}
	if r := call("POST", "/v1/tenants/{id}/restores", byID, past); r.Status != http.StatusConflict || r.Code != edge.CodeJobRunning {
		t.Errorf("restore while a backup is queued = %+v, want 409 job_running", r)
	}
	byJob := map[string]string{"id": acme.TenantID, "jobId": jobID}
	if r := call("GET", "/v1/tenants/{id}/jobs/{jobId}", byJob, ""); r.Status != http.StatusOK || r.Body["jobId"] != jobID || r.Body["state"] != "QUEUED" {
		t.Errorf("job = %+v", r)
	}
	other := map[string]string{"id": acme.TenantID, "jobId": recovery.NewJobID()}
	if r := call("GET", "/v1/tenants/{id}/jobs/{jobId}", other, ""); r.Status != http.StatusNotFound || r.Code != edge.CodeNotFound {
		t.Errorf("unknown job = %+v, want 404 not_found", r)
	}
	if r := call("GET", "/v1/tenants/{id}/jobs", byID, ""); r.Status != http.StatusOK || len(r.Body["items"].([]any)) != 1 {
		t.Errorf("jobs = %+v, want the one backup", r)
	}
	nobody := map[string]string{"id": tenant.NewID()}
	if r := call("POST", "/v1/tenants/{id}/backups", nobody, ""); r.Status != http.StatusNotFound || r.Code != edge.CodeNotFound {
		t.Errorf("backup of an unknown tenant = %+v, want 404 not_found", r)
	}
	if r := call("POST", "/v1/tenants/{id}/restores", nobody, past); r.Status != http.StatusNotFound || r.Code != edge.CodeNotFound {
		t.Errorf("restore of an unknown tenant = %+v, want 404 not_found", r)
	}
	if r := call("GET", "/v1/tenants/{id}/backups", nobody, ""); r.Status != http.StatusNotFound || r.Code != edge.CodeNotFound {
		t.Errorf("backups of an unknown tenant = %+v, want 404 not_found", r)
	}

	// A suspended tenant is neither backed up nor restored.
	globex := fixture.NewTenant(t, s.e, "globex").Record
	byGlobex := map[string]string{"id": globex.TenantID}
	if r := call("POST", "/v1/tenants/{id}/suspend", byGlobex, ""); r.Status != http.StatusOK {
		t.Fatalf("suspend = %+v", r)
	}
	if r := call("POST", "/v1/tenants/{id}/backups", byGlobex, ""); r.Status != http.StatusConflict || r.Code != edge.CodeInvalidState {
		t.Errorf("backup of a suspended tenant = %+v, want 409 invalid_state", r)
	}
	if r := call("POST", "/v1/tenants/{id}/restores", byGlobex, past); r.Status != http.StatusConflict || r.Code != edge.CodeInvalidState {
		t.Errorf("restore of a suspended tenant = %+v, want 409 invalid_state", r)
	}

	// The request is audited under the operator's sub.
	cat := store.NewCatalog(store.NewClient(s.e.Config), s.e.Settings.CatalogTable)
	audit, err := cat.AuditTrail(context.Background(), acme.TenantID)
	if err != nil || len(audit) != 1 || audit[0].Action != "BackupTenant" || audit[0].Actor != b.Body["actor"] {
		t.Errorf("audit = %+v, %v; want one BackupTenant by %v", audit, err, b.Body["actor"])
	}
}
