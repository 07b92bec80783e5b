package store_test

import (
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/crypto"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// lostReply passes every request on to the emulator, and loses the reply to
// the first request of one DynamoDB operation after the emulator applied
// it, as a connection reset on the way back does: the SDK's retryer then
// sends the same request again. (The emulator cannot be made to lose a
// reply; everything else is the emulator's.)
type lostReply struct {
	op   string // X-Amz-Target, "DynamoDB_20120810.PutItem"
	lost atomic.Bool
}

func (l *lostReply) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && r.Header.Get("X-Amz-Target") == l.op && l.lost.CompareAndSwap(false, true) {
		resp.Body.Close()
		return nil, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	}
	return resp, err
}

// TestCreateExportSurvivesARetriedPut: a retried PutItem of a new export
// whose first attempt was applied but whose reply was lost finds its own
// record (a fresh id: nothing else can be there) and succeeds, instead of
// failing on its own condition (POST /v1/exports answered 500 internal;
// schemathesis found it on the local stack, where the emulator drops
// replies under load).
func TestCreateExportSurvivesARetriedPut(t *testing.T) {
	h := newHarness(t)
	acme := fixture.NewTenant(t, h.e, "acme").Record
	cfg := h.e.Config.Copy()
	lose := &lostReply{op: "DynamoDB_20120810.PutItem"}
	cfg.HTTPClient = &http.Client{Transport: lose}
	flaky := harness{e: h.e, s: store.New(store.NewClient(cfg), crypto.NewEnvelope(kms.NewFromConfig(h.e.Config)), store.WithCredentials(h.creds))}

	e, err := flaky.as(acme).CreateExport(bg)
	if !lose.lost.Load() {
		t.Fatal("no reply was lost: the test tests nothing")
	}
	if err != nil {
		t.Fatalf("CreateExport after a lost reply: %v", err)
	}
	got, err := h.as(acme).GetExport(bg, e.ID)
	if err != nil || got.Status != e.Status || !got.CreatedAt.Equal(e.CreatedAt) {
		t.Fatalf("stored export = %+v, %v; want %+v", got, err, e)
	}
	if items := h.partition(t, acme.TenantID+"#EXPORT"); len(items) != 1 {
		t.Fatalf("%d export records, want 1", len(items))
	}
}
