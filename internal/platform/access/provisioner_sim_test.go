package access_test

import (
	"encoding/json"
	"testing"

	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/access/iamsim"
)

// foreignKeyARN is a KMS key of the same account that is not a tenant key:
// its policy is KMS's default one, which leaves everything to IAM.
const foreignKeyARN = "arn:aws:kms:us-east-1:" + simAccount + ":key/5555eeee-0000-0000-0000-0000000foreign"

// TestSimProvisionerCannotTakeOverForeignKeys gives dev's provisioner a
// foreign key (default key policy, so its IAM policy alone decides):
// untagged, with a forged tenantId (and stage) tag but no tenant alias, or
// with an alias of its own. It must not tag it (which would make it a
// tenant key in the eyes of tag conditions), disable it, schedule its
// deletion, alias it, grant on it or replace its policy.
func TestSimProvisionerCannotTakeOverForeignKeys(t *testing.T) {
	keys := map[string]map[string]any{
		"untagged": {},
		"forged-tenant-tag": {
			"aws:ResourceTag/" + access.TenantTag: stageTenant,
		},
		"forged-tenant-and-stage-tags": {
			"aws:ResourceTag/" + access.TenantTag: stageTenant,
			"aws:ResourceTag/" + access.StageTag:  devStage,
		},
		"forged-tags-and-own-alias": {
			"aws:ResourceTag/" + access.TenantTag: stageTenant,
			"aws:ResourceTag/" + access.StageTag:  devStage,
			"kms:ResourceAliases":                 []string{"alias/payments"},
		},
	}
	tagRequests := map[string]map[string]any{
		"tenant-tag": {
			"aws:RequestTag/" + access.TenantTag: stageTenant, "aws:TagKeys": []string{access.TenantTag},
		},
		"tenant-and-stage-tags": {
			"aws:RequestTag/" + access.TenantTag: stageTenant, "aws:RequestTag/" + access.StageTag: devStage,
			"aws:TagKeys": []string{access.TenantTag, access.StageTag},
		},
	}
	var reqs []iamsim.Request
	add := func(name, action string, ctx map[string]any) {
		reqs = append(reqs, iamsim.Request{Name: name, IdentityPolicies: []json.RawMessage{provisionerPolicy(devStage).JSON()},
			ResourcePolicy: iamKeyPolicy, Principal: provisionerSession(devStage), Action: action, Resource: foreignKeyARN,
			AccountID: simAccount, Context: ctx})
	}
	merge := func(a, b map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range a {
			m[k] = v
		}
		for k, v := range b {
			m[k] = v
		}
		return m
	}
	for kname, kctx := range keys {
		for tname, tctx := range tagRequests {
			add(kname+"/TagResource/"+tname, "kms:TagResource", merge(kctx, tctx))
		}
		for _, a := range []string{"DisableKey", "ScheduleKeyDeletion", "CreateAlias", "PutKeyPolicy", "DescribeKey"} {
			add(kname+"/"+a, "kms:"+a, kctx)
		}
		add(kname+"/CreateGrant", "kms:CreateGrant", merge(kctx, map[string]any{
			"kms:GrantIsForAWSResource": "true", "kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}))
	}
	want := make([]string, len(reqs))
	for i := range want {
		want[i] = iamsim.ImplicitlyDenied
	}
	results, err := iamsim.Run(iamsim.Script(t), reqs)
	if err != nil {
		t.Fatal(err)
	}
	iamsim.Check(t, reqs, results, want)
}

// TestSimProvisionerManagesOwnTenantKeys: on its own stage's tenant key
// (tenant alias, stage and tenant tags, the key policy it created it with)
// the provisioner still does its job: describe, alias, disable, schedule
// deletion, and set the key's two tags once (from the key's own policy,
// only this tenant's id and this stage); nothing else.
func TestSimProvisionerManagesOwnTenantKeys(t *testing.T) {
	keyPol := stageKeyPolicy(devStage)
	var reqs []iamsim.Request
	var want []string
	add := func(name, action string, ctx map[string]any, decision string) {
		reqs = append(reqs, iamsim.Request{Name: name, IdentityPolicies: []json.RawMessage{provisionerPolicy(devStage).JSON()},
			ResourcePolicy: keyPol, Principal: provisionerSession(devStage), Action: action, Resource: devKeyARN,
			AccountID: simAccount, Context: ctx})
		want = append(want, decision)
	}
	// A key just created: no tags, no alias yet.
	fresh := map[string]any{}
	add("fresh/CreateAlias", "kms:CreateAlias", fresh, iamsim.Allowed)
	add("fresh/ScheduleKeyDeletion", "kms:ScheduleKeyDeletion", fresh, iamsim.Allowed) // a key that lost the alias race
	add("fresh/DescribeKey", "kms:DescribeKey", fresh, iamsim.Allowed)
	own := map[string]any{
		"aws:RequestTag/" + access.TenantTag: stageTenant, "aws:RequestTag/" + access.StageTag: devStage,
		"aws:TagKeys": []string{access.TenantTag, access.StageTag},
	}
	add("fresh/TagResource/own-tags", "kms:TagResource", own, iamsim.Allowed)
	for name, ctx := range map[string]map[string]any{
		"other-tenant": {"aws:RequestTag/" + access.TenantTag: "t-other", "aws:RequestTag/" + access.StageTag: devStage,
			"aws:TagKeys": []string{access.TenantTag, access.StageTag}},
		"other-stage": {"aws:RequestTag/" + access.TenantTag: stageTenant, "aws:RequestTag/" + access.StageTag: prodStage,
			"aws:TagKeys": []string{access.TenantTag, access.StageTag}},
		"extra-tag-key": {"aws:RequestTag/" + access.TenantTag: stageTenant, "aws:RequestTag/" + access.StageTag: devStage,
			"aws:RequestTag/owner": "x", "aws:TagKeys": []string{access.TenantTag, access.StageTag, "owner"}},
	} {
		add("fresh/TagResource/"+name, "kms:TagResource", ctx, iamsim.ImplicitlyDenied)
	}
	for _, a := range []string{"DisableKey", "ScheduleKeyDeletion", "DescribeKey"} {
		add("tenant-key/"+a, "kms:"+a, stageKey(devStage, nil), iamsim.Allowed)
	}
	add("tenant-key/CreateGrant-via-dynamodb", "kms:CreateGrant", stageKey(devStage, map[string]any{
		"kms:GrantIsForAWSResource": "true", "kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}), iamsim.Allowed)
	for _, a := range []string{"PutKeyPolicy", "UntagResource", "Decrypt", "GenerateDataKey", "Encrypt", "EnableKey", "CancelKeyDeletion"} {
		add("tenant-key/"+a, "kms:"+a, stageKey(devStage, nil), iamsim.ImplicitlyDenied)
	}
	results, err := iamsim.Run(iamsim.Script(t), reqs)
	if err != nil {
		t.Fatal(err)
	}
	iamsim.Check(t, reqs, results, want)
}
