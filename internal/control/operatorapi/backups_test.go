package operatorapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/tessera-saas/tessera/internal/control/backup"
	"github.com/tessera-saas/tessera/internal/control/operatorapi"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/edge"
	"github.com/tessera-saas/tessera/internal/platform/idtoken"
	"github.com/tessera-saas/tessera/internal/platform/recovery"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// The engine is what the routes drive.
var _ operatorapi.Backups = (*backup.Service)(nil)

// These are unit tests of the HTTP layer of the backup routes: the engine
// is a recording fake of operatorapi.Backups (its own tests run on the
// emulator), and the ID token verifier a fake with two known tokens, so the
// operators group check of tenant.AuthenticateOperator still runs.

const (
	opToken   = "operator-token"
	userToken = "tenant-admin-token"
	opSub     = "0b7c6f9e-op"
	tenantA   = "t-acme"
)

type fakeVerifier struct{}

func (fakeVerifier) Verify(_ context.Context, raw string) (map[string]string, error) {
	switch raw {
	case opToken:
		return map[string]string{"sub": opSub, tenant.ClaimGroups: tenant.OperatorsGroup}, nil
	case userToken:
		return map[string]string{"sub": "user-sub", tenant.ClaimGroups: "admins", tenant.ClaimTenantID: tenantA}, nil
	}
	return nil, idtoken.ErrInvalidToken
}

// fakeBackups records each call and answers with its fields.
type fakeBackups struct {
	calls   []string
	restore backup.RestoreRequest
	job     recovery.Job
	jobs    []recovery.Job
	snaps   []recovery.Snapshot
	err     error
}

func (f *fakeBackups) RequestBackup(_ context.Context, tenantID, actor, correlationID string, trigger recovery.Trigger) (recovery.Job, error) {
	f.calls = append(f.calls, fmt.Sprintf("RequestBackup %s %s %s %s", tenantID, actor, correlationID, trigger))
	return f.job, f.err
}

func (f *fakeBackups) RequestRestore(_ context.Context, r backup.RestoreRequest) (recovery.Job, error) {
	f.calls = append(f.calls, "RequestRestore "+r.TenantID)
	f.restore = r
	return f.job, f.err
}

func (f *fakeBackups) Job(_ context.Context, tenantID, jobID string) (recovery.Job, error) {
	f.calls = append(f.calls, "Job "+tenantID+" "+jobID)
	return f.job, f.err
}

func (f *fakeBackups) Jobs(_ context.Context, tenantID string) ([]recovery.Job, error) {
	f.calls = append(f.calls, "Jobs "+tenantID)
	return f.jobs, f.err
}

func (f *fakeBackups) Snapshots(_ context.Context, tenantID string) ([]recovery.Snapshot, error) {
	f.calls = append(f.calls, "Snapshots "+tenantID)
	return f.snaps, f.err
}

// backupHandler is the operator handler with the fake engine (nil: none).
func backupHandler(b operatorapi.Backups) *operatorapi.Handler {
	h := operatorapi.New(nil, nil, slogDiscard()).WithVerifier(fakeVerifier{})
	if b != nil {
		h = h.WithBackups(b)
	}
	return h
}

// backupEvent is a proxy event of route key ("POST /v1/tenants/{id}/backups")
// with the operator's token.
func backupEvent(key string, params map[string]string, body string) events.APIGatewayProxyRequest {
	method, resource, _ := strings.Cut(key, " ")
	path := resource
	for k, v := range params {
		path = strings.ReplaceAll(path, "{"+k+"}", v)
	}
	return events.APIGatewayProxyRequest{HTTPMethod: method, Resource: resource, Path: path, PathParameters: params, Body: body,
		Headers:        map[string]string{"Authorization": "Bearer " + opToken, "Content-Type": "application/json", "X-Correlation-Id": "corr-1"},
		RequestContext: events.APIGatewayProxyRequestContext{RequestID: "req-1"}}
}

type answer struct {
	status int
	code   string
	body   map[string]any
}

func send(t *testing.T, h *operatorapi.Handler, ev events.APIGatewayProxyRequest) answer {
	t.Helper()
	resp, err := h.Handle(context.Background(), ev)
	if err != nil {
		t.Fatalf("handler error: %v", err)
	}
	a := answer{status: resp.StatusCode}
	if err := json.Unmarshal([]byte(resp.Body), &a.body); err != nil {
		t.Fatalf("body is not a JSON object: %q", resp.Body)
	}
	if e, ok := a.body["error"].(map[string]any); ok {
		a.code, _ = e["code"].(string)
	}
	return a
}

var (
	jobID    = recovery.NewJobID()
	byTenant = map[string]string{"id": tenantA}
	byJob    = map[string]string{"id": tenantA, "jobId": jobID}
)

// TestBackupRoutesRefuseBadInputWithoutCallingTheEngine: a bad tenant or job
// id, a restore body that is malformed, has unknown fields, lacks `to`, has a
// `to` that is not RFC 3339 or a blank or too long intoNewTenant, and a
// caller who is not an operator, are each answered with their status and
// code, and the engine is never called.
func TestBackupRoutesRefuseBadInputWithoutCallingTheEngine(t *testing.T) {
	long := strings.Repeat("n", operatorapi.MaxTenantNameLen+1)
	tests := []struct {
		name   string
		key    string
		params map[string]string
		body   string
		auth   string // "" keeps the operator's token; "-" sends none
		status int
		code   string
	}{
		{"backup: bad tenant id", "POST /v1/tenants/{id}/backups", map[string]string{"id": "T#1"}, "", "", 400, edge.CodeInvalidID},
		{"backups: bad tenant id", "GET /v1/tenants/{id}/backups", map[string]string{"id": "a"}, "", "", 400, edge.CodeInvalidID},
		{"jobs: bad tenant id", "GET /v1/tenants/{id}/jobs", map[string]string{"id": "t_acme"}, "", "", 400, edge.CodeInvalidID},
		{"job: bad tenant id", "GET /v1/tenants/{id}/jobs/{jobId}", map[string]string{"id": "UPPER", "jobId": jobID}, "", "", 400, edge.CodeInvalidID},
		{"job: bad job id", "GET /v1/tenants/{id}/jobs/{jobId}", map[string]string{"id": tenantA, "jobId": "j-123"}, "", "", 400, edge.CodeInvalidID},
		{"job: snapshot id as job id", "GET /v1/tenants/{id}/jobs/{jobId}", map[string]string{"id": tenantA, "jobId": recovery.NewSnapshotID()}, "", "", 400, edge.CodeInvalidID},
		{"job: upper-case job id", "GET /v1/tenants/{id}/jobs/{jobId}", map[string]string{"id": tenantA, "jobId": strings.ToUpper(jobID)}, "", "", 400, edge.CodeInvalidID},
		{"restore: bad tenant id", "POST /v1/tenants/{id}/restores", map[string]string{"id": "T#1"}, `{"to":"2024-05-01T12:00:00Z"}`, "", 400, edge.CodeInvalidID},
		{"restore: no body", "POST /v1/tenants/{id}/restores", byTenant, "", "", 400, edge.CodeMalformedJSON},
		{"restore: malformed", "POST /v1/tenants/{id}/restores", byTenant, `{"to":`, "", 400, edge.CodeMalformedJSON},
		{"restore: no to", "POST /v1/tenants/{id}/restores", byTenant, `{}`, "", 400, edge.CodeValidation},
		{"restore: null to", "POST /v1/tenants/{id}/restores", byTenant, `{"to":null}`, "", 400, edge.CodeValidation},
		{"restore: empty to", "POST /v1/tenants/{id}/restores", byTenant, `{"to":""}`, "", 400, edge.CodeValidation},
		{"restore: date only", "POST /v1/tenants/{id}/restores", byTenant, `{"to":"2024-05-01"}`, "", 400, edge.CodeValidation},
		{"restore: no zone", "POST /v1/tenants/{id}/restores", byTenant, `{"to":"2024-05-01T12:00:00"}`, "", 400, edge.CodeValidation},
		{"restore: unix time", "POST /v1/tenants/{id}/restores", byTenant, `{"to":1714564800}`, "", 400, edge.CodeInvalidType},
		{"restore: unknown field", "POST /v1/tenants/{id}/restores", byTenant, `{"to":"2024-05-01T12:00:00Z","into":"x"}`, "", 400, edge.CodeUnknownField},
		{"restore: field spelt in another case", "POST /v1/tenants/{id}/restores", byTenant, `{"to":"2024-05-01T12:00:00Z","intoNewtenant":"x"}`, "", 400, edge.CodeUnknownField},
		{"restore: duplicate to", "POST /v1/tenants/{id}/restores", byTenant, `{"to":"2024-05-01T12:00:00Z","to":"2024-05-02T12:00:00Z"}`, "", 400, edge.CodeDuplicateField},
		{"restore: blank new tenant", "POST /v1/tenants/{id}/restores", byTenant, `{"to":"2024-05-01T12:00:00Z","intoNewTenant":"  "}`, "", 400, edge.CodeValidation},
		{"restore: empty new tenant", "POST /v1/tenants/{id}/restores", byTenant, `{"to":"2024-05-01T12:00:00Z","intoNewTenant":""}`, "", 400, edge.CodeValidation},
		{"restore: long new tenant", "POST /v1/tenants/{id}/restores", byTenant, `{"to":"2024-05-01T12:00:00Z","intoNewTenant":"` + long + `"}`, "", 400, edge.CodeValidation},
		{"restore: new tenant not a string", "POST /v1/tenants/{id}/restores", byTenant, `{"to":"2024-05-01T12:00:00Z","intoNewTenant":7}`, "", 400, edge.CodeInvalidType},
		{"backup: tenant admin", "POST /v1/tenants/{id}/backups", byTenant, "", userToken, 403, edge.CodeForbidden},
		{"restore: tenant admin", "POST /v1/tenants/{id}/restores", byTenant, `{"to":"2024-05-01T12:00:00Z"}`, userToken, 403, edge.CodeForbidden},
		{"job: tenant admin", "GET /v1/tenants/{id}/jobs/{jobId}", byJob, "", userToken, 403, edge.CodeForbidden},
		{"backups: forged token", "GET /v1/tenants/{id}/backups", byTenant, "", "forged", 401, edge.CodeUnauthenticated},
		{"jobs: no token", "GET /v1/tenants/{id}/jobs", byTenant, "", "-", 401, edge.CodeUnauthenticated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeBackups{}
			ev := backupEvent(tc.key, tc.params, tc.body)
			switch tc.auth {
			case "":
			case "-":
				delete(ev.Headers, "Authorization")
			default:
				ev.Headers["Authorization"] = "Bearer " + tc.auth
			}
			a := send(t, backupHandler(f), ev)
			if a.status != tc.status || a.code != tc.code {
				t.Errorf("%s = %d %q %v, want %d %s", tc.key, a.status, a.code, a.body, tc.status, tc.code)
			}
			if len(f.calls) != 0 {
				t.Errorf("the engine was called: %v", f.calls)
			}
		})
	}
}

// TestBackupRoutesCallTheEngine: each route calls the engine once with the
// path's ids, the operator's verified sub as the actor, the caller's
// correlation id and, for a restore, the parsed time and the trimmed name,
// and answers its status with the engine's job or lists ("items", never
// null).
func TestBackupRoutesCallTheEngine(t *testing.T) {
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	job := recovery.Job{ID: jobID, TenantID: tenantA, Kind: recovery.KindBackup, State: recovery.StateQueued, Phase: recovery.PhaseQueued,
		Actor: opSub, Trigger: recovery.TriggerOperator, CreatedAt: at, UpdatedAt: at, Version: 1}
	snap := recovery.Snapshot{ID: recovery.NewSnapshotID(), TenantID: tenantA, Tier: "basic", Trigger: recovery.TriggerSchedule,
		StartedAt: at, CompletedAt: at.Add(time.Second), FeedFrom: at.Add(-5 * time.Second), Items: 3, Bytes: 900, Checksum: "abc123",
		Partitions: map[string]recovery.Partition{"PRODUCT": {Items: 3, Checksum: "abc123"}},
		Parts:      []recovery.Part{{Key: tenantA + "/snapshots/x/part-00000.jsonl", Items: 3, SHA256: "ff", Bytes: 900}}}
	tests := []struct {
		name      string
		key       string
		params    map[string]string
		body      string
		fake      fakeBackups
		status    int
		wantCall  string
		wantItems int // -1: the body is a job
		restore   *backup.RestoreRequest
	}{
		{"backup", "POST /v1/tenants/{id}/backups", byTenant, "", fakeBackups{job: job}, 202,
			"RequestBackup " + tenantA + " " + opSub + " corr-1 operator", -1, nil},
		{"list backups", "GET /v1/tenants/{id}/backups", byTenant, "", fakeBackups{snaps: []recovery.Snapshot{snap}}, 200,
			"Snapshots " + tenantA, 1, nil},
		{"list no backups", "GET /v1/tenants/{id}/backups", byTenant, "", fakeBackups{}, 200, "Snapshots " + tenantA, 0, nil},
		{"restore in place", "POST /v1/tenants/{id}/restores", byTenant, `{"to":"2024-05-01T14:00:00+02:00"}`, fakeBackups{job: job}, 202,
			"RequestRestore " + tenantA, -1, &backup.RestoreRequest{TenantID: tenantA, To: at, Actor: opSub, CorrelationID: "corr-1"}},
		{"restore in place, null name", "POST /v1/tenants/{id}/restores", byTenant, `{"to":"2024-05-01T12:00:00.000Z","intoNewTenant":null}`, fakeBackups{job: job}, 202,
			"RequestRestore " + tenantA, -1, &backup.RestoreRequest{TenantID: tenantA, To: at, Actor: opSub, CorrelationID: "corr-1"}},
		{"restore into a new tenant", "POST /v1/tenants/{id}/restores", byTenant, `{"to":"2024-05-01T12:00:00Z","intoNewTenant":"  Acme (restored) "}`, fakeBackups{job: job}, 202,
			"RequestRestore " + tenantA, -1, &backup.RestoreRequest{TenantID: tenantA, To: at, IntoName: "Acme (restored)", Actor: opSub, CorrelationID: "corr-1"}},
		{"job", "GET /v1/tenants/{id}/jobs/{jobId}", byJob, "", fakeBackups{job: job}, 200, "Job " + tenantA + " " + jobID, -1, nil},
		{"jobs", "GET /v1/tenants/{id}/jobs", byTenant, "", fakeBackups{jobs: []recovery.Job{job, job}}, 200, "Jobs " + tenantA, 2, nil},
		{"no jobs", "GET /v1/tenants/{id}/jobs", byTenant, "", fakeBackups{}, 200, "Jobs " + tenantA, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.fake
			a := send(t, backupHandler(&f), backupEvent(tc.key, tc.params, tc.body))
			if a.status != tc.status {
				t.Fatalf("%s = %d %v, want %d", tc.key, a.status, a.body, tc.status)
			}
			if len(f.calls) != 1 || f.calls[0] != tc.wantCall {
				t.Errorf("calls = %q, want [%q]", f.calls, tc.wantCall)
			}
			if tc.wantItems < 0 {
				if a.body["jobId"] != jobID || a.body["state"] != "QUEUED" || a.body["tenantId"] != tenantA {
					t.Errorf("body = %v, want the job %s", a.body, jobID)
				}
			} else {
				items, ok := a.body["items"].([]any)
				if !ok || len(items) != tc.wantItems {
					t.Errorf("items = %#v, want an array of %d", a.body["items"], tc.wantItems)
				}
			}
			if tc.restore != nil {
				if !f.restore.To.Equal(tc.restore.To) || f.restore.To.Location() != time.UTC {
					t.Errorf("restore to %v, want %v in UTC", f.restore.To, tc.restore.To)
				}
				got, want := f.restore, *tc.restore
				got.To, want.To = time.Time{}, time.Time{}
				if got != want {
					t.Errorf("restore request = %+v, want %+v", got, want)
				}
			}
		})
	}
	// A backup carries its counts, checksums and parts.
	f := fakeBackups{snaps: []recovery.Snapshot{snap}}
	a := send(t, backupHandler(&f), backupEvent("GET /v1/tenants/{id}/backups", byTenant, ""))
	got := a.body["items"].([]any)[0].(map[string]any)
	parts, _ := got["parts"].([]any)
	if got["snapshotId"] != snap.ID || got["items"] != 3.0 || got["checksum"] != "abc123" || len(parts) != 1 ||
		got["partitions"].(map[string]any)["PRODUCT"].(map[string]any)["items"] != 3.0 {
		t.Errorf("backup = %v", got)
	}
}

// TestBackupErrorsMapToStableCodes: the engine's errors, wrapped as it wraps
// them, reach the client as their status and code; an unexpected one is a
// 500 whose text stays in the log.
func TestBackupErrorsMapToStableCodes(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("tenant %s: %w", tenantA, err) }
	routes := []struct {
		key    string
		params map[string]string
		body   string
	}{
		{"POST /v1/tenants/{id}/backups", byTenant, ""},
		{"GET /v1/tenants/{id}/backups", byTenant, ""},
		{"POST /v1/tenants/{id}/restores", byTenant, `{"to":"2024-05-01T12:00:00Z"}`},
		{"GET /v1/tenants/{id}/jobs/{jobId}", byJob, ""},
		{"GET /v1/tenants/{id}/jobs", byTenant, ""},
	}
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{wrap(backup.ErrBusy), http.StatusConflict, edge.CodeJobRunning},
		{wrap(backup.ErrNotActive), http.StatusConflict, edge.CodeInvalidState},
		{wrap(backup.ErrBadTime), http.StatusBadRequest, edge.CodeValidation},
		{wrap(recovery.ErrNoSnapshot), http.StatusConflict, edge.CodeNoBackup},
		{wrap(recovery.ErrJobNotFound), http.StatusNotFound, edge.CodeNotFound},
		{wrap(catalog.ErrNotFound), http.StatusNotFound, edge.CodeNotFound},
		{errors.New("s3: access denied to bucket tessera-secret"), http.StatusInternalServerError, edge.CodeInternal},
	}
	for _, r := range routes {
		for _, tc := range tests {
			t.Run(r.key+"/"+tc.code, func(t *testing.T) {
				f := &fakeBackups{err: tc.err}
				a := send(t, backupHandler(f), backupEvent(r.key, r.params, r.body))
				if a.status != tc.status || a.code != tc.code {
					t.Errorf("%v = %d %q, want %d %s", tc.err, a.status, a.code, tc.status, tc.code)
				}
				if msg, _ := a.body["error"].(map[string]any)["message"].(string); strings.Contains(msg, "tessera-secret") || strings.Contains(msg, tenantA+":") {
					t.Errorf("message %q shows the internal error", msg)
				}
				if len(f.calls) != 1 {
					t.Errorf("calls = %v, want one", f.calls)
				}
			})
		}
	}
}

// TestBackupRoutesWithoutAnEngine answer 501 not_configured, after checking
// the caller.
func TestBackupRoutesWithoutAnEngine(t *testing.T) {
	h := backupHandler(nil)
	for _, tc := range []struct {
		key    string
		params map[string]string
		body   string
	}{
		{"POST /v1/tenants/{id}/backups", byTenant, ""},
		{"GET /v1/tenants/{id}/backups", byTenant, ""},
		{"POST /v1/tenants/{id}/restores", byTenant, `{"to":"2024-05-01T12:00:00Z"}`},
		{"GET /v1/tenants/{id}/jobs/{jobId}", byJob, ""},
		{"GET /v1/tenants/{id}/jobs", byTenant, ""},
	} {
		if a := send(t, h, backupEvent(tc.key, tc.params, tc.body)); a.status != http.StatusNotImplemented || a.code != edge.CodeNotConfigured {
			t.Errorf("%s = %d %q, want 501 not_configured", tc.key, a.status, a.code)
		}
		ev := backupEvent(tc.key, tc.params, tc.body)
		ev.Headers["Authorization"] = "Bearer " + userToken
		if a := send(t, h, ev); a.status != http.StatusForbidden {
			t.Errorf("%s by a tenant admin = %d %q, want 403", tc.key, a.status, a.code)
		}
	}
}
