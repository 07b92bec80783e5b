package apikey

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/apigateway/types"

	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/catalog"
	"github.com/tessera-saas/tessera/internal/platform/plan"
)

// API is the part of the API Gateway API the binder uses.
type API interface {
	apigateway.GetApiKeysAPIClient
	CreateApiKey(context.Context, *apigateway.CreateApiKeyInput, ...func(*apigateway.Options)) (*apigateway.CreateApiKeyOutput, error)
	DeleteApiKey(context.Context, *apigateway.DeleteApiKeyInput, ...func(*apigateway.Options)) (*apigateway.DeleteApiKeyOutput, error)
	GetUsagePlanKey(context.Context, *apigateway.GetUsagePlanKeyInput, ...func(*apigateway.Options)) (*apigateway.GetUsagePlanKeyOutput, error)
	CreateUsagePlanKey(context.Context, *apigateway.CreateUsagePlanKeyInput, ...func(*apigateway.Options)) (*apigateway.CreateUsagePlanKeyOutput, error)
	DeleteUsagePlanKey(context.Context, *apigateway.DeleteUsagePlanKeyInput, ...func(*apigateway.Options)) (*apigateway.DeleteUsagePlanKeyOutput, error)
}

// ErrNoPlan means the deployment names no usage plan for a tier: a
// configuration error no retry fixes.
var ErrNoPlan = errors.New("apikey: no usage plan for the tier")

// Binder manages tenants' keys against the deployment's usage plans.
type Binder struct {
	api   API
	stage string
	plans map[catalog.Tier]string
}

// New returns a binder for stage whose tiers' usage plans are plans. It makes
// no AWS call.
func New(api API, stage string, plans map[catalog.Tier]string) *Binder {
	return &Binder{api: api, stage: stage, plans: plans}
}

// Name is the name of a tenant's key in stage.
func Name(stage, tenantID string) string { return "tessera-" + stage + "-" + tenantID }

// Key is a tenant's API key.
type Key struct {
	ID   string
	Name string
	// Value is the key itself: what the tenant authorizer returns as the
	// usageIdentifierKey (clients never send it). Set by Bind and Reveal;
	// never log it.
	Value string
}

// Bind makes sure the tenant has its key and that the key is in the usage
// plan of tier and in no other plan of the deployment, and returns it with
// its value. It is safe to call again at any point: a retry finds the key by
// name and the bindings as they are.
func (b *Binder) Bind(ctx context.Context, tenantID string, tier catalog.Tier) (Key, error) {
	want, ok := b.plans[tier]
	if !ok || want == "" {
		return Key{}, fmt.Errorf("%w: %q", ErrNoPlan, tier)
	}
	k, found, err := b.find(ctx, tenantID, true)
	if err != nil {
		return Key{}, err
	}
	if !found {
		out, err := b.api.CreateApiKey(ctx, &apigateway.CreateApiKeyInput{
			Name:        aws.String(Name(b.stage, tenantID)),
			Description: aws.String("Tessera tenant " + tenantID),
			Enabled:     true,
			Tags:        map[string]string{access.TenantTag: tenantID},
		})
		if err != nil {
			return Key{}, fmt.Errorf("create api key of %s: %w", tenantID, err)
		}
		// Another worker may have made one at the same moment: look again,
		// so that all of them settle on the same key.
		if k, found, err = b.find(ctx, tenantID, true); err != nil {
			return Key{}, err
		}
		if !found {
			return Key{}, fmt.Errorf("api key %s of %s not found after create", aws.ToString(out.Id), tenantID)
		}
	}
	// Into the new plan first, then out of the others: during a tier
	// change the tenant is never without limits.
	bound, err := b.bound(ctx, want, k.ID)
	if err != nil {
		return Key{}, err
	}
	if !bound {
		_, err := b.api.CreateUsagePlanKey(ctx, &apigateway.CreateUsagePlanKeyInput{UsagePlanId: aws.String(want), KeyId: aws.String(k.ID), KeyType: aws.String("API_KEY")})
		var conflict *types.ConflictException
		if err != nil && !errors.As(err, &conflict) {
			return Key{}, fmt.Errorf("bind api key of %s to plan %s: %w", tenantID, want, err)
		}
	}
	if err := b.unbindAll(ctx, tenantID, k.ID, want); err != nil {
		return Key{}, err
	}
	return k, nil
}

// Delete removes the tenant's key from every plan and deletes it. A tenant
// without a key is success.
func (b *Binder) Delete(ctx context.Context, tenantID string) error {
	k, found, err := b.find(ctx, tenantID, false)
	if err != nil || !found {
		return err
	}
	return b.remove(ctx, tenantID, k.ID)
}

// Reveal returns the tenant's key with its value, for an operator to hand to
// the tenant. found is false when the tenant has no key.
func (b *Binder) Reveal(ctx context.Context, tenantID string) (k Key, found bool, err error) {
	return b.find(ctx, tenantID, true)
}

// Plans returns the ids of the usage plans the tenant's key is bound to.
func (b *Binder) Plans(ctx context.Context, tenantID string) ([]string, error) {
	k, found, err := b.find(ctx, tenantID, false)
	if err != nil || !found {
		return nil, err
	}
	var out []string
	for _, t := range plan.Tiers {
		id := b.plans[t]
		if id == "" {
			continue
		}
		ok, err := b.bound(ctx, id, k.ID)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, id)
		}
	}
	return out, nil
}

// find looks the tenant's key up by its exact name (the API matches names
// by prefix). Key names are not unique in API Gateway: when racing workers
// (a lease that ran out, say) made more than one, the oldest wins, the same
// choice for every worker, and the others are unbound and deleted.
func (b *Binder) find(ctx context.Context, tenantID string, withValue bool) (Key, bool, error) {
	name := Name(b.stage, tenantID)
	var found []types.ApiKey
	p := apigateway.NewGetApiKeysPaginator(b.api, &apigateway.GetApiKeysInput{NameQuery: aws.String(name), IncludeValues: aws.Bool(withValue)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return Key{}, false, fmt.Errorf("find api key of %s: %w", tenantID, err)
		}
		for _, k := range page.Items {
			if aws.ToString(k.Name) == name {
				found = append(found, k)
			}
		}
	}
	if len(found) == 0 {
		return Key{}, false, nil
	}
	slices.SortFunc(found, func(x, y types.ApiKey) int {
		if c := aws.ToTime(x.CreatedDate).Compare(aws.ToTime(y.CreatedDate)); c != 0 {
			return c
		}
		return strings.Compare(aws.ToString(x.Id), aws.ToString(y.Id))
	})
	for _, extra := range found[1:] {
		if err := b.remove(ctx, tenantID, aws.ToString(extra.Id)); err != nil {
			return Key{}, false, err
		}
	}
	k := found[0]
	return Key{ID: aws.ToString(k.Id), Name: name, Value: aws.ToString(k.Value)}, true, nil
}

// unbindAll takes a key out of every plan of the deployment but keep.
func (b *Binder) unbindAll(ctx context.Context, tenantID, keyID, keep string) error {
	for _, id := range b.plans {
		if id == "" || id == keep {
			continue
		}
		if err := b.unbind(ctx, id, keyID); err != nil {
			return fmt.Errorf("unbind api key of %s from plan %s: %w", tenantID, id, err)
		}
	}
	return nil
}

// remove unbinds a key from every plan and deletes it.
func (b *Binder) remove(ctx context.Context, tenantID, keyID string) error {
	if err := b.unbindAll(ctx, tenantID, keyID, ""); err != nil {
		return err
	}
	_, err := b.api.DeleteApiKey(ctx, &apigateway.DeleteApiKeyInput{ApiKey: aws.String(keyID)})
	var nf *types.NotFoundException
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("delete api key of %s: %w", tenantID, err)
	}
	return nil
}

func (b *Binder) bound(ctx context.Context, plan, keyID string) (bool, error) {
	_, err := b.api.GetUsagePlanKey(ctx, &apigateway.GetUsagePlanKeyInput{UsagePlanId: aws.String(plan), KeyId: aws.String(keyID)})
	var nf *types.NotFoundException
	switch {
	case errors.As(err, &nf):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read binding of key %s in plan %s: %w", keyID, plan, err)
	}
	return true, nil
}

func (b *Binder) unbind(ctx context.Context, plan, keyID string) error {
	ok, err := b.bound(ctx, plan, keyID)
	if err != nil || !ok {
		return err
	}
	_, err = b.api.DeleteUsagePlanKey(ctx, &apigateway.DeleteUsagePlanKeyInput{UsagePlanId: aws.String(plan), KeyId: aws.String(keyID)})
	var nf *types.NotFoundException
	if err != nil && !errors.As(err, &nf) {
		return err
	}
	return nil
}
