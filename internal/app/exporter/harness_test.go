package exporter_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/tessera-saas/tessera/internal/app/exporter"
	"github.com/tessera-saas/tessera/internal/app/tenantapi"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/local/testenv/apievent"
	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/awsconfig"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/crypto"
	"github.com/tessera-saas/tessera/internal/platform/entityid"
	"github.com/tessera-saas/tessera/internal/platform/export"
	"github.com/tessera-saas/tessera/internal/platform/features"
	"github.com/tessera-saas/tessera/internal/platform/plan"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/wire"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// harness is the API handler and the exports worker on the local stack,
// with export queues of their own per tier (so no other test's messages
// reach them).
type harness struct {
	e       *testenv.Env
	s       settings.Settings
	api     *tenantapi.Handler
	q       *sqs.Client
	objects *s3.Client
	data    *store.Store
	log     *testenv.LogBuffer
	apiLogs *testenv.LogBuffer
	runs    *runLog
	// entitled: the tenants given the exports entitlement (entitle).
	mu       sync.Mutex
	entitled map[string]bool
}

// runLog counts runs through the worker's run hook.
type runLog struct {
	mu   sync.Mutex
	runs []exporter.Run
}

func (l *runLog) hook(r exporter.Run) func() {
	l.mu.Lock()
	l.runs = append(l.runs, r)
	l.mu.Unlock()
	return func() {}
}

func (l *runLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.runs)
}

func newHarness(t *testing.T) *harness {
	e := testenv.Setup(t)
	s := e.Settings
	s.CatalogTTL = 0 // see suspensions at once
	q := sqs.NewFromConfig(e.Config)
	s.ExportQueueURLs = map[catalog.Tier]string{}
	for _, tier := range plan.Tiers {
		s.ExportQueueURLs[tier] = newQueue(t, q, "test-exports-"+string(tier))
	}
	creds := access.NewCredentials(sts.NewFromConfig(e.Config), s.DataAccessRoleARN)
	h := &harness{e: e, s: s, q: q, objects: awsconfig.NewS3(e.Config, quietChecksums), log: &testenv.LogBuffer{}, apiLogs: &testenv.LogBuffer{}, runs: &runLog{},
		data: store.New(store.NewClient(e.Config), crypto.NewEnvelope(kms.NewFromConfig(e.Config)), store.WithCredentials(creds))}
	h.api = wire.NewAPI(e.Config, s, h.apiLog(), nil).Handler
	h.entitled = map[string]bool{}
	return h
}

func (h *harness) apiLog() *slog.Logger { return slog.New(slog.NewJSONHandler(h.apiLogs, nil)) }

// record reads an export through the store, whatever the tenant's status.
func (h *harness) record(t *testing.T, rec catalog.Record, id string) export.Export {
	t.Helper()
	sc, err := catalog.ActAs(rec)
	if err != nil {
		t.Fatal(err)
	}
	e, err := h.data.For(sc).GetExport(context.Background(), id)
	if err != nil {
		t.Fatalf("get export %s: %v", id, err)
	}
	return e
}

// worker is the exports function's handler on the harness's settings.
func (h *harness) worker(opts ...exporter.Option) *exporter.Worker {
	log := slog.New(slog.NewJSONHandler(h.log, nil))
	return wire.NewExports(h.e.Config, h.s, log, append([]exporter.Option{exporter.WithRunHook(h.runs.hook)}, opts...)...)
}

// newQueue creates a queue with a unique name and deletes it after the test.
func newQueue(t *testing.T, q *sqs.Client, prefix string) string {
	t.Helper()
	out, err := q.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(prefix + "-" + strings.ToLower(entityid.New())),
		Attributes: map[string]string{"VisibilityTimeout": "30"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl}) })
	return aws.ToString(out.QueueUrl)
}

type result = apievent.Result

// call sends one API request as the admin of tenantID. An export request
// of a tenant whose plan has no exports (basic, the fixture's tier) gets
// the exports entitlement first: these tests are about exports that run.
func (h *harness) call(t *testing.T, tenantID, method, resource string, params map[string]string, body string) result {
	t.Helper()
	if method == "POST" && resource == "/v1/exports" {
		h.entitle(t, tenantID)
	}
	return apievent.Do(t, h.api.Handle, apievent.Request(t, tenantID, method, resource, params, body))
}

// entitle gives tenantID the exports entitlement, once.
func (h *harness) entitle(t *testing.T, tenantID string) {
	t.Helper()
	h.mu.Lock()
	done := h.entitled[tenantID]
	h.mu.Unlock()
	if done {
		return
	}
	fixture.Override(t, h.e, tenantID, features.Exports, true)
	h.mu.Lock()
	h.entitled[tenantID] = true
	h.mu.Unlock()
}

// mustCreate sends a create request and returns the created resource.
func (h *harness) mustCreate(t *testing.T, tenantID, resource, body string) map[string]any {
	t.Helper()
	r := h.call(t, tenantID, "POST", resource, nil, body)
	if r.Status != 201 && r.Status != 202 {
		t.Fatalf("POST %s = %+v\napi log:\n%s", resource, r, h.apiLogs.String())
	}
	return r.Body
}

// getExport reads an export through the API.
func (h *harness) getExport(t *testing.T, tenantID, id string) result {
	t.Helper()
	return h.call(t, tenantID, "GET", "/v1/exports/{id}", map[string]string{"id": id}, "")
}

// object reads an export object with the emulator's own credentials.
func (h *harness) object(t *testing.T, key string) (*s3.GetObjectOutput, []byte) {
	t.Helper()
	out, err := h.objects.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(h.s.ExportBucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get object %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return out, b
}

// keysUnder lists the objects under a prefix of the export bucket.
func (h *harness) keysUnder(t *testing.T, prefix string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(h.objects, &s3.ListObjectsV2Input{Bucket: aws.String(h.s.ExportBucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

// lines decodes an export object.
func lines(t *testing.T, b []byte) []export.Line {
	t.Helper()
	var out []export.Line
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		var l export.Line
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitDone polls the API until every export (id -> tenant) is DONE, or
// fails the test after a minute (a deadline for completion, not a speed
// check).
func (h *harness) waitDone(t *testing.T, exports map[string]string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for id, tenantID := range exports {
		for {
			r := h.getExport(t, tenantID, id)
			if r.Status != 200 {
				t.Fatalf("get export %s = %+v", id, r)
			}
			if r.Body["status"] == string(export.StatusDone) {
				break
			}
			if r.Body["status"] == string(export.StatusFailed) || time.Now().After(deadline) {
				t.Fatalf("export %s is %v; logs:\n%s", id, r.Body, h.log.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// quietChecksums silences the SDK's note that the emulator's GetObject
// responses carry no checksum.
func quietChecksums(o *s3.Options) { o.DisableLogOutputChecksumValidationSkipped = true }
