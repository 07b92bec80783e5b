package store_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/tessera-saas/tessera/internal/local/testenv/fixture"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/crypto"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

func TestUserRecordsAreKeyedBySubAndWrittenOnce(t *testing.T) {
	h := newHarness(t)
	acme := fixture.NewTenant(t, h.e, "acme").Record
	data := h.as(acme)
	first, err := data.PutUser(bg, store.UserRecord{Email: "ann@acme.test", Role: "member", Sub: "sub-ann"})
	if err != nil || first.CreatedAt.IsZero() {
		t.Fatalf("put = %+v, %v", first, err)
	}
	items := h.partition(t, acme.TenantID+"#USER")
	if len(items) != 1 || items[0]["sk"].(*types.AttributeValueMemberS).Value != "sub-ann" ||
		items[0]["email"].(*types.AttributeValueMemberS).Value != "ann@acme.test" {
		t.Fatalf("user not stored under %s#USER/<sub> with its email: %v", acme.TenantID, items)
	}
	// A retried write (another email, role and time) keeps the first record.
	again, err := data.PutUser(bg, store.UserRecord{Email: "other@acme.test", Role: "admin", Sub: "sub-ann", CreatedAt: first.CreatedAt.Add(time.Hour)})
	if err != nil || !again.CreatedAt.Equal(first.CreatedAt) || again.Email != "ann@acme.test" || again.Role != "member" {
		t.Fatalf("second put = %+v, %v; want the first record %+v", again, err, first)
	}
	page, err := data.ListUsers(bg, store.PageRequest{Limit: 10})
	if err != nil || len(page.Items) != 1 || page.Items[0] != first {
		t.Fatalf("list = %+v, %v; want [%+v]", page, err, first)
	}
	if _, err := data.PutUser(bg, store.UserRecord{Email: "nosub@acme.test", Role: "member"}); err == nil {
		t.Fatal("a record without a sub was written")
	}
}

func TestInviteCounterCapsEachUTCDay(t *testing.T) {
	h := newHarness(t)
	acme := fixture.NewTenant(t, h.e, "acme").Record
	now := time.Date(2030, 5, 17, 23, 59, 0, 0, time.UTC)
	s := store.New(h.ddb, crypto.NewEnvelope(kms.NewFromConfig(h.e.Config)), store.WithCredentials(h.creds), store.WithClock(func() time.Time { return now }))
	sc, err := catalog.ScopeOf(tenant.Tenant{ID: acme.TenantID, UserID: "u", Role: tenant.RoleAdmin}, acme)
	if err != nil {
		t.Fatal(err)
	}
	data := s.For(sc)
	midnight := time.Date(2030, 5, 18, 0, 0, 0, 0, time.UTC)
	for i := 1; i <= 3; i++ {
		reset, err := data.CountInvite(bg, 3)
		if err != nil || !reset.Equal(midnight) {
			t.Fatalf("invite %d: reset %v, %v", i, reset, err)
		}
	}
	reset, err := data.CountInvite(bg, 3)
	if !errors.Is(err, store.ErrInviteLimit) || !reset.Equal(midnight) {
		t.Fatalf("invite 4: %v (reset %v), want ErrInviteLimit until %v", err, reset, midnight)
	}
	items := h.partition(t, acme.TenantID+"#INVITES")
	if len(items) != 1 {
		t.Fatalf("counter items = %v", items)
	}
	it := items[0]
	if it["sk"].(*types.AttributeValueMemberS).Value != "2030-05-17" || it["invites"].(*types.AttributeValueMemberN).Value != "3" ||
		it["expiresAt"].(*types.AttributeValueMemberN).Value != strconv.FormatInt(midnight.Add(24*time.Hour).Unix(), 10) {
		t.Fatalf("counter item = %v (the refused invite must not count)", it)
	}
	now = midnight.Add(time.Second) // a new UTC day
	if _, err := data.CountInvite(bg, 3); err != nil {
		t.Fatalf("first invite of the next day: %v", err)
	}
	// Offboarding's purge removes the counters with the rest.
	if _, err := data.PurgeTenant(bg); err != nil {
		t.Fatal(err)
	}
	if left := h.partition(t, acme.TenantID+"#INVITES"); len(left) != 0 {
		t.Fatalf("counters survive the purge: %v", left)
	}
}
