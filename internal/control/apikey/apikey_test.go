package apikey_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"

	"github.com/tessera-saas/tessera/internal/control/apikey"
	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/tenant"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func setup(t *testing.T) (*apigateway.Client, *apikey.Binder, testenv.Env) {
	e := testenv.Setup(t)
	api := apigateway.NewFromConfig(e.Config)
	return api, apikey.New(api, e.Settings.Stage, e.Settings.UsagePlanIDs), *e
}

func keysNamed(t *testing.T, api *apigateway.Client, name string) []string {
	t.Helper()
	out, err := api.GetApiKeys(context.Background(), &apigateway.GetApiKeysInput{NameQuery: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range out.Items {
		if aws.ToString(k.Name) == name {
			ids = append(ids, aws.ToString(k.Id))
		}
	}
	return ids
}

func TestBindFollowsTheTierAndDeleteRemoves(t *testing.T) {
	api, b, e := setup(t)
	ctx := context.Background()
	id, other := tenant.NewID(), tenant.NewID()
	if _, err := b.Bind(ctx, other, catalog.TierBasic); err != nil {
		t.Fatal(err)
	}
	for _, tier := range []catalog.Tier{catalog.TierBasic, catalog.TierBasic, catalog.TierPremium, catalog.TierStandard} {
		k, err := b.Bind(ctx, id, tier)
		if err != nil {
			t.Fatalf("bind %s: %v", tier, err)
		}
		if k.Name != apikey.Name(e.Settings.Stage, id) || k.ID == "" || k.Value == "" {
			t.Fatalf("key %s (%s): want the tenant's name, an id and its value (the catalog records it for the tenant authorizer)", k.ID, k.Name)
		}
		if ids := keysNamed(t, api, k.Name); len(ids) != 1 || ids[0] != k.ID {
			t.Fatalf("keys named %s: %v, want just %s", k.Name, ids, k.ID)
		}
		plans, err := b.Plans(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if want := e.Settings.UsagePlanIDs[tier]; len(plans) != 1 || plans[0] != want {
			t.Fatalf("after bind %s: plans %v, want [%s]", tier, plans, want)
		}
	}
	revealed, found, err := b.Reveal(ctx, id)
	if err != nil || !found || revealed.Value == "" {
		t.Fatalf("Reveal = %+v, %v, %v; want the key with its value", revealed, found, err)
	}
	if err := b.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, id); err != nil { // again: nothing to do
		t.Fatalf("second delete: %v", err)
	}
	if ids := keysNamed(t, api, apikey.Name(e.Settings.Stage, id)); len(ids) != 0 {
		t.Fatalf("keys left after delete: %v", ids)
	}
	// The other tenant's key and binding are untouched.
	plans, err := b.Plans(ctx, other)
	if err != nil || len(plans) != 1 || plans[0] != e.Settings.UsagePlanIDs[catalog.TierBasic] {
		t.Fatalf("other tenant's plans = %v, %v", plans, err)
	}
}

// TestDuplicateKeysConverge: API Gateway does not make key names unique, so
// two workers racing past a lapsed lease can both create one. The next Bind
// keeps one of them, the same one whoever runs it, and deletes the other.
func TestDuplicateKeysConverge(t *testing.T) {
	api, b, e := setup(t)
	ctx := context.Background()
	id := tenant.NewID()
	name := apikey.Name(e.Settings.Stage, id)
	for i := 0; i < 2; i++ {
		if _, err := api.CreateApiKey(ctx, &apigateway.CreateApiKeyInput{Name: aws.String(name), Enabled: true}); err != nil {
			t.Fatal(err)
		}
	}
	if ids := keysNamed(t, api, name); len(ids) != 2 {
		t.Fatalf("setup: %d keys", len(ids))
	}
	k, err := b.Bind(ctx, id, catalog.TierStandard)
	if err != nil {
		t.Fatal(err)
	}
	if ids := keysNamed(t, api, name); len(ids) != 1 || ids[0] != k.ID {
		t.Fatalf("keys after bind: %v, want just %s", ids, k.ID)
	}
}

func TestUnknownTierIsAConfigurationError(t *testing.T) {
	_, _, e := setup(t)
	b := apikey.New(apigateway.NewFromConfig(e.Config), e.Settings.Stage, map[catalog.Tier]string{catalog.TierBasic: e.Settings.UsagePlanIDs[catalog.TierBasic]})
	if _, err := b.Bind(context.Background(), tenant.NewID(), catalog.TierPremium); !errors.Is(err, apikey.ErrNoPlan) {
		t.Fatalf("Bind = %v, want ErrNoPlan", err)
	}
}
