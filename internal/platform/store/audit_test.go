package store_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tessera-saas/tessera/internal/platform/audit"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/platform/store"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

// puts records the PutItem requests it forwards to the emulator.
type puts struct {
	store.DynamoDB
	got []*dynamodb.PutItemInput
}

func (p *puts) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	p.got = append(p.got, in)
	return p.DynamoDB.PutItem(ctx, in, o...)
}

// TestAuditTrailOrderRangeAndPages: entries sort by time, whole seconds
// and fractions alike (the fixed-width time of the sort key); from is
// inclusive and to exclusive; pages follow each other; every entry is a
// put conditioned on its absence, with the tier's expiry; the trail is
// its own partition.
func TestAuditTrailOrderRangeAndPages(t *testing.T) {
	h := newHarness(t)
	rec := &puts{DynamoDB: h.ddb}
	id := tenant.NewID()
	t0 := time.Date(2026, 11, 11, 10, 0, 0, 0, time.UTC)
	times := []time.Time{t0.Add(500 * time.Millisecond), t0, t0.Add(time.Second), t0.Add(time.Second), t0.Add(1500 * time.Millisecond), t0.Add(3 * time.Second)}
	cat := store.NewCatalog(rec, h.e.Settings.CatalogTable)
	for i, at := range times {
		if err := cat.AppendAudit(bg, store.AuditEntry{TenantID: id, At: at, Actor: "op", ActorKind: audit.Operator,
			Action: "A", RequestID: string(rune('a' + i)), Tier: catalog.TierPremium}); err != nil {
			t.Fatal(err)
		}
	}
	for _, in := range rec.got {
		if cond := aws.ToString(in.ConditionExpression); !strings.Contains(cond, "attribute_not_exists") {
			t.Errorf("audit put conditioned on %q, want attribute_not_exists", cond)
		}
	}
	all, err := cat.AuditTrail(bg, id)
	if err != nil || len(all) != len(times) {
		t.Fatalf("trail = %+v, %v", all, err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].At.Before(all[i-1].At) {
			t.Fatalf("entry %d at %s after entry %d at %s", i, all[i].At, i-1, all[i-1].At)
		}
	}
	if all[0].At != t0 || all[1].At != t0.Add(500*time.Millisecond) {
		t.Fatalf("a whole second does not sort before its fractions: %v, %v", all[0].At, all[1].At)
	}
	for _, e := range all {
		if e.ExpiresAt != e.At.AddDate(0, 0, 730).Unix() || e.TenantID != id {
			t.Errorf("entry %+v: expiry, want 730 days (premium)", e)
		}
	}
	page, err := cat.Audit(bg, id, t0.Add(time.Second), t0.Add(3*time.Second), "", 2)
	if err != nil || len(page.Items) != 2 || page.Next == "" {
		t.Fatalf("first page = %+v, %v", page, err)
	}
	rest, err := cat.Audit(bg, id, t0.Add(time.Second), t0.Add(3*time.Second), page.Next, 2)
	if err != nil || len(rest.Items) != 1 || rest.Items[0].At != t0.Add(1500*time.Millisecond) || rest.Next != "" {
		t.Fatalf("second page = %+v, %v (to is exclusive: the entry at +3s is not in it)", rest, err)
	}
	if _, err := cat.Audit(bg, tenant.NewID(), time.Time{}, time.Time{}, page.Next, 2); !errors.Is(err, store.ErrInvalidCursor) {
		t.Fatalf("another tenant's cursor: %v", err)
	}
	// The partition is AUDIT#<tenant> and holds nothing else; the
	// tenant's own partition key prefix is not used.
	out, err := h.ddb.Query(bg, &dynamodb.QueryInput{TableName: aws.String(h.e.Settings.CatalogTable),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: store.AuditPrefix + id}}})
	if err != nil || len(out.Items) != len(times) {
		t.Fatalf("AUDIT#%s holds %d items, %v", id, len(out.Items), err)
	}
	sk := out.Items[0]["sk"].(*types.AttributeValueMemberS).Value
	if !strings.HasPrefix(sk, "2026-11-11T10:00:00.000000000Z#") {
		t.Errorf("sort key %q, want the fixed-width time and an id", sk)
	}
	if _, ok := out.Items[0][store.CatalogTTLAttribute]; !ok {
		t.Errorf("no TTL attribute %s on %v", store.CatalogTTLAttribute, out.Items[0])
	}
}

// TestStoreMarksRequestsThatWrote: a write that succeeded marks the
// request in ctx, so its failure still leaves an entry; a refused write
// does not, and leaves none.
func TestStoreMarksRequestsThatWrote(t *testing.T) {
	h := newHarness(t)
	cat := store.NewCatalog(h.ddb, h.e.Settings.CatalogTable)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	now := time.Now().UTC()
	id := tenant.NewID()
	rec := catalog.Record{TenantID: id, Name: "M", Tier: catalog.TierBasic, Status: catalog.StatusProvisioning, CreatedAt: now, UpdatedAt: now, Version: 1}
	for _, tc := range []struct {
		name   string
		status int
		want   int
	}{{"written, then failed", 500, 1}, {"refused, nothing written", 409, 0}} {
		ctx, r := audit.Begin(bg, route.All, events.APIGatewayProxyRequest{HTTPMethod: "POST", Resource: "/v1/tenants/{id}/suspend",
			PathParameters: map[string]string{"id": id}, RequestContext: events.APIGatewayProxyRequestContext{RequestID: tc.name}})
		r.Identify("op", audit.Operator, "", "", cat)
		err := cat.CreateTenant(ctx, rec) // the first succeeds, the second finds the tenant
		if (err == nil) != (tc.want == 1) {
			t.Fatalf("%s: create: %v", tc.name, err)
		}
		r.Finish(ctx, tc.status, "", log)
		trail, err := cat.AuditTrail(bg, id)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range trail {
			if e.RequestID == tc.name {
				n++
			}
		}
		if n != tc.want {
			t.Errorf("%s: %d entries, want %d", tc.name, n, tc.want)
		}
	}
}
