package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tessera-saas/tessera/internal/platform/cell"
	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// A multi-cell stage: two cells in two accounts, the
// router in a third account, and the global pool's ids as the Router stack's
// outputs give them.
const (
	cellsRouterAccount = "999999999999"
	cellsRouterRegion  = "eu-west-1"
	cellsPoolID        = "eu-west-1_Tess3raP00l"
	cellsClientID      = "4example0client0id0abcdefg"
	cellsPoolARN       = "arn:aws:cognito-idp:" + cellsRouterRegion + ":" + cellsRouterAccount + ":userpool/" + cellsPoolID
)

var testCells = []map[string]any{
	{"id": "c1", "account": "111111111111", "region": "eu-west-1", "apiUrl": "https://c1.api.tessera.example/test", "open": true},
	// No region: the router's.
	{"id": "c2", "account": "222222222222", "apiUrl": "https://c2.api.tessera.example/test", "open": true, "capacity": 1000},
}

// cellsContext is the multi-cell context (cells as a JSON string, as `-c
// cells=...` gives it), with override's keys set, or removed when nil.
func cellsContext(stage string, override map[string]any) map[string]any {
	b, _ := json.Marshal(testCells)
	ctx := map[string]any{
		"stage": stage, "cells": string(b),
		"routerAccount": cellsRouterAccount, "routerRegion": cellsRouterRegion,
		"userPoolId": cellsPoolID, "appClientId": cellsClientID,
	}
	for k, v := range override {
		if v == nil {
			delete(ctx, k)
		} else {
			ctx[k] = v
		}
	}
	return ctx
}

// cellsSynth is a multi-cell app, synthesized.
type cellsSynth struct {
	Outdir string
	// Stacks and their templates by stack name.
	Stacks map[string]awscdk.Stack
	JSON   map[string]cfnTemplate
}

var cellsOnce = sync.OnceValues(func() (*cellsSynth, error) { return synthCells(cellsContext(testStage, nil), true) })

// synthCellsApp returns the multi-cell app synthesized once per test binary.
func synthCellsApp(t *testing.T) *cellsSynth {
	t.Helper()
	s, err := cellsOnce()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// synthCells builds the app of ctx, and synthesizes it when synth is set
// (else the stacks are only constructed: their annotations are there).
func synthCells(ctx map[string]any, synth bool) (*cellsSynth, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	outdir, err := mkTemp("tessera-cells-out-")
	if err != nil {
		return nil, err
	}
	code, err := placeholderCode()
	if err != nil {
		return nil, err
	}
	// The router's code too (not a cell function).
	if err := os.MkdirAll(filepath.Join(code, string(route.FunctionRouter)), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(code, string(route.FunctionRouter), "bootstrap"), []byte("placeholder"), 0o755); err != nil {
		return nil, err
	}
	app, err := newApp(root, outdir, ctx)
	if err != nil {
		return nil, err
	}
	cfg, err := configFrom(app)
	if err != nil {
		return nil, err
	}
	cfg.Env = nil // whatever the machine's CDK_DEFAULT_* say
	if _, err := newStacks(app, cfg, code); err != nil {
		return nil, err
	}
	s := &cellsSynth{Outdir: outdir, Stacks: map[string]awscdk.Stack{}, JSON: map[string]cfnTemplate{}}
	for _, c := range *app.Node().Children() {
		if *awscdk.Stack_IsStack(c) {
			st := awscdk.Stack_Of(c)
			s.Stacks[*st.StackName()] = st
		}
	}
	if !synth {
		return s, nil
	}
	app.Synth(nil)
	for name, st := range s.Stacks {
		if s.JSON[name], err = readTemplate(filepath.Join(outdir, *st.ArtifactId()+".template.json")); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// template returns the template of the named stack.
func (s *cellsSynth) template(t *testing.T, name string) cfnTemplate {
	t.Helper()
	tmpl, ok := s.JSON[name]
	if !ok {
		t.Fatalf("no stack %s; stacks: %v", name, keys(s.JSON))
	}
	return tmpl
}

func cellStack(c, kind string) string { return "Tessera-" + testStage + "-" + c + "-" + kind }

const routerStackName = "Tessera-" + testStage + "-Router"

// usersRoleARNOf is the ARN of a cell's users role in the router account.
func usersRoleARNOf(c string) string {
	return "arn:aws:iam::" + cellsRouterAccount + ":role/tessera-" + testStage + "-" + c + "-users"
}

// literalPartition flattens a value with the partition written out.
func literalPartition(v any) string {
	return strings.ReplaceAll(flatten(v), "${AWS::Partition}", "aws")
}

// userManagers are the functions that manage users (Cognito admin calls).
func userManagers() []functionSpec {
	var out []functionSpec
	for _, spec := range functionSpecs {
		if len(spec.UserPoolActions) > 0 {
			out = append(out, spec)
		}
	}
	return out
}

// TestCellsStackSetAndEnvironments: with cells, the app is the Router stack
// in the router account, a Data and an App stack per cell in the cell's
// account and Region, a DR stack per cell in the cell's account and the DR
// Region, and the TenantStack template; no single-cell stacks.
func TestCellsStackSetAndEnvironments(t *testing.T) {
	s := synthCellsApp(t)
	want := map[string][2]string{routerStackName: {cellsRouterAccount, cellsRouterRegion}}
	for _, c := range testCells {
		for _, kind := range []string{"Data", "App"} {
			want[cellStack(c["id"].(string), kind)] = [2]string{c["account"].(string), cellsRouterRegion}
		}
		// The replicas of the cell's backups: its account, the DR Region
		// paired with the router's (defaultDRRegions).
		want[cellStack(c["id"].(string), "DR")] = [2]string{c["account"].(string), "eu-central-1"}
	}
	var got []string
	for name, st := range s.Stacks {
		if name == tenantStackID {
			continue
		}
		got = append(got, name)
		env, ok := want[name]
		if !ok {
			continue
		}
		if *st.Account() != env[0] || *st.Region() != env[1] {
			t.Errorf("stack %s: env %s/%s, want %s/%s", name, *st.Account(), *st.Region(), env[0], env[1])
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, keys(want)) {
		t.Errorf("stacks %v, want %v (and %s)", got, keys(want), tenantStackID)
	}
	if _, ok := s.Stacks[tenantStackID]; !ok {
		t.Errorf("no %s: its template is the provisioner's", tenantStackID)
	}
}

// TestCellsFunctionsKnowTheirCell: every function of a cell has its
// TESSERA_CELL and the global pool's ids; the functions that manage users
// have the ARN of their cell's users role, may assume exactly that role, and
// have no Cognito action of their own.
func TestCellsFunctionsKnowTheirCell(t *testing.T) {
	s := synthCellsApp(t)
	for _, c := range testCells {
		id := c["id"].(string)
		tmpl := s.template(t, cellStack(id, "App"))
		for _, spec := range functionSpecs {
			t.Run(id+"/"+string(spec.Name), func(t *testing.T) {
				fnLogical := tmpl.logicalID(t, "AWS::Lambda::Function", fnID(spec.Name)+"Function")
				env, _ := props(tmpl.resources("AWS::Lambda::Function")[fnLogical])["Environment"].(map[string]any)
				vars, _ := env["Variables"].(map[string]any)
				wantKeys := append(slices.Clone(spec.Env), settings.EnvCell)
				if len(spec.UserPoolActions) > 0 {
					wantKeys = append(wantKeys, settings.EnvUserPoolRoleARN)
				}
				slices.Sort(wantKeys)
				if got := keys(vars); !slices.Equal(got, wantKeys) {
					t.Errorf("environment %v, want %v", got, wantKeys)
				}
				if vars[settings.EnvCell] != id {
					t.Errorf("%s = %v, want %s", settings.EnvCell, vars[settings.EnvCell], id)
				}
				if v, ok := vars[settings.EnvUserPoolID]; ok && v != cellsPoolID {
					t.Errorf("%s = %s, want the global pool %s", settings.EnvUserPoolID, jsonOf(v), cellsPoolID)
				}
				if v, ok := vars[settings.EnvAppClientID]; ok && v != cellsClientID {
					t.Errorf("%s = %s, want the global client %s", settings.EnvAppClientID, jsonOf(v), cellsClientID)
				}
				if v, ok := vars[settings.EnvUserPoolRoleARN]; ok && literalPartition(v) != usersRoleARNOf(id) {
					t.Errorf("%s = %s, want %s", settings.EnvUserPoolRoleARN, jsonOf(v), usersRoleARNOf(id))
				}

				roleID := tmpl.logicalID(t, "AWS::IAM::Role", fnID(spec.Name)+"FunctionRole")
				var assumes []string
				for _, st := range roleStatements(tmpl, roleID) {
					for _, a := range strs(st["Action"]) {
						if strings.HasPrefix(strings.ToLower(a), "cognito-idp:") {
							t.Errorf("cell role has %s: users are managed through the router account's role", a)
						}
						if actionMatches(a, "sts:AssumeRole") {
							for _, r := range list(st["Resource"]) {
								if !strings.Contains(flatten(r), "TenantDataAccessRole") {
									assumes = append(assumes, literalPartition(r))
								}
							}
						}
					}
				}
				var want []string
				if len(spec.UserPoolActions) > 0 {
					want = []string{usersRoleARNOf(id)}
				}
				if !slices.Equal(assumes, want) {
					t.Errorf("sts:AssumeRole (other than TenantDataAccessRole) on %v, want %v", assumes, want)
				}
			})
		}
	}
}

// TestCellsOneGlobalUserPool: the router stack holds the one user pool (and
// its app client); no cell stack has one, and each cell's operator routes
// are authorized by the global pool, imported by ARN.
func TestCellsOneGlobalUserPool(t *testing.T) {
	s := synthCellsApp(t)
	for name, tmpl := range s.JSON {
		want := 0
		if name == routerStackName {
			want = 1
		}
		for _, typ := range []string{"AWS::Cognito::UserPool", "AWS::Cognito::UserPoolClient", "AWS::Cognito::UserPoolGroup"} {
			if n := len(tmpl.resources(typ)); n != want {
				t.Errorf("%s: %d %s, want %d", name, n, typ, want)
			}
		}
	}
	for _, c := range testCells {
		tmpl := s.template(t, cellStack(c["id"].(string), "App"))
		var arns []string
		for _, a := range tmpl.resources("AWS::ApiGateway::Authorizer") {
			if props(a)["Type"] == "COGNITO_USER_POOLS" {
				for _, p := range list(props(a)["ProviderARNs"]) {
					arns = append(arns, literalPartition(p))
				}
			}
		}
		if !slices.Equal(arns, []string{cellsPoolARN}) {
			t.Errorf("cell %s: Cognito authorizer providers %v, want [%s]", c["id"], arns, cellsPoolARN)
		}
	}
}

// TestCellsRouterAPIMatchesRouteTable: the router API has exactly the
// methods of route.Router, each proxied to the router function behind the
// Cognito user pool authorizer of the global pool, with no API key; its
// stage logs and throttles as the cells' stage does.
func TestCellsRouterAPIMatchesRouteTable(t *testing.T) {
	s := synthCellsApp(t)
	tmpl := s.template(t, routerStackName)
	paths := resourcePaths(t, tmpl)
	fnLogical := tmpl.logicalID(t, "AWS::Lambda::Function", "RouterFunction")
	poolLogical := tmpl.logicalID(t, "AWS::Cognito::UserPool", "UserPool")
	got := map[string]map[string]any{}
	for _, m := range tmpl.resources("AWS::ApiGateway::Method") {
		p := props(m)
		got[p["HttpMethod"].(string)+" "+paths[flatten(p["ResourceId"])]] = p
	}
	var want []string
	for _, r := range route.Router {
		want = append(want, r.Key())
		p, ok := got[r.Key()]
		if !ok {
			t.Errorf("no method for %s", r.Key())
			continue
		}
		if p["AuthorizationType"] != "COGNITO_USER_POOLS" || !strings.HasPrefix(flatten(p["AuthorizerId"]), "${Authorizer") {
			t.Errorf("%s: AuthorizationType %v, AuthorizerId %s; want the Cognito authorizer", r.Key(), p["AuthorizationType"], jsonOf(p["AuthorizerId"]))
		}
		if p["ApiKeyRequired"] == true {
			t.Errorf("%s requires an API key", r.Key())
		}
		if !strings.Contains(jsonOf(p["Integration"]), `"`+fnLogical+`"`) || !strings.Contains(jsonOf(p["Integration"]), "AWS_PROXY") {
			t.Errorf("%s: integration %s, want a proxy to %s", r.Key(), jsonOf(p["Integration"]), fnLogical)
		}
		if p["OperationName"] != r.Name {
			t.Errorf("%s: OperationName %v, want %s", r.Key(), p["OperationName"], r.Name)
		}
	}
	slices.Sort(want)
	if k := keys(got); !slices.Equal(k, want) {
		t.Errorf("router API methods %v, want route.Router %v", k, want)
	}
	auths := tmpl.resources("AWS::ApiGateway::Authorizer")
	if len(auths) != 1 {
		t.Fatalf("router API has %d authorizers, want 1 (Cognito)", len(auths))
	}
	for _, a := range auths {
		if p := props(a); p["Type"] != "COGNITO_USER_POOLS" || jsonOf(p["ProviderARNs"]) != jsonOf([]any{getAttArn(poolLogical)}) {
			t.Errorf("router authorizer %s, want COGNITO_USER_POOLS of %s", jsonOf(p), poolLogical)
		}
	}
	for _, typ := range []string{"AWS::ApiGateway::UsagePlan", "AWS::ApiGateway::ApiKey"} {
		if n := len(tmpl.resources(typ)); n != 0 {
			t.Errorf("router stack has %d %s, want none", n, typ)
		}
	}
	check(t, "stage", func() {
		assertions.Template_FromStack(s.Stacks[routerStackName], nil).HasResourceProperties(jsii.String("AWS::ApiGateway::Stage"), map[string]any{
			"StageName":        testStage,
			"AccessLogSetting": assertions.Match_ObjectLike(&map[string]any{"DestinationArn": assertions.Match_AnyValue()}),
			"MethodSettings": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"ThrottlingRateLimit": stageRateLimit, "ThrottlingBurstLimit": stageBurstLimit,
			})}),
		})
	})

	// The router function's configuration: the cell map, its table, the
	// pool and client it verifies ID tokens of.
	env, _ := props(tmpl.resources("AWS::Lambda::Function")[fnLogical])["Environment"].(map[string]any)
	vars, _ := env["Variables"].(map[string]any)
	wantEnv := []string{settings.EnvAppClientID, settings.EnvCells, settings.EnvDirectoryTable, settings.EnvStage, settings.EnvUserPoolID}
	if k := keys(vars); !slices.Equal(k, wantEnv) {
		t.Errorf("router environment %v, want %v", k, wantEnv)
	}
	cellsJSON, _ := vars[settings.EnvCells].(string)
	m, err := cell.Parse([]byte(cellsJSON))
	if err != nil || len(m.Cells()) != len(testCells) {
		t.Errorf("%s = %s: %v, want the %d cells", settings.EnvCells, cellsJSON, err, len(testCells))
	}
	if flatten(vars[settings.EnvUserPoolID]) != "${"+poolLogical+"}" {
		t.Errorf("%s = %s, want the router's pool", settings.EnvUserPoolID, jsonOf(vars[settings.EnvUserPoolID]))
	}
	dirLogical := tmpl.logicalID(t, "AWS::DynamoDB::Table", "DirectoryTable")
	if flatten(vars[settings.EnvDirectoryTable]) != "${"+dirLogical+"}" {
		t.Errorf("%s = %s, want the directory table", settings.EnvDirectoryTable, jsonOf(vars[settings.EnvDirectoryTable]))
	}
}

// TestCellsRouterRoleDirectoryOnly: the router function's role has the item
// actions of store.Directory (GetItem, and the Put/Update/Delete items of
// its transactions) on the directory table, no other table action and no
// other resource, and nothing but its logs besides.
func TestCellsRouterRoleDirectoryOnly(t *testing.T) {
	s := synthCellsApp(t)
	tmpl := s.template(t, routerStackName)
	dirLogical := tmpl.logicalID(t, "AWS::DynamoDB::Table", "DirectoryTable")
	roleID := tmpl.logicalID(t, "AWS::IAM::Role", "RouterFunctionRole")
	var table []string
	for _, st := range roleStatements(tmpl, roleID) {
		for _, a := range strs(st["Action"]) {
			switch svc, _, _ := strings.Cut(strings.ToLower(a), ":"); svc {
			case "dynamodb":
				table = append(table, a)
				if r := sortedFlat(st["Resource"]); !slices.Equal(r, []string{"${" + dirLogical + ".Arn}"}) {
					t.Errorf("%s on %v, want the directory table only", a, r)
				}
			case "logs":
			default:
				t.Errorf("router role has %s on %s", a, jsonOf(st["Resource"]))
			}
		}
	}
	slices.Sort(table)
	if want := []string{"dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}; !slices.Equal(table, want) {
		t.Errorf("router role's table actions %v, want %v", table, want)
	}

	check(t, "directory table", func() {
		assertions.Template_FromStack(s.Stacks[routerStackName], nil).HasResourceProperties(jsii.String("AWS::DynamoDB::Table"), map[string]any{
			"KeySchema": []any{
				map[string]any{"AttributeName": "pk", "KeyType": "HASH"},
				map[string]any{"AttributeName": "sk", "KeyType": "RANGE"},
			},
			"AttributeDefinitions": []any{
				map[string]any{"AttributeName": "pk", "AttributeType": "S"},
				map[string]any{"AttributeName": "sk", "AttributeType": "S"},
			},
			"BillingMode":                      "PAY_PER_REQUEST",
			"PointInTimeRecoverySpecification": map[string]any{"PointInTimeRecoveryEnabled": true},
			"TimeToLiveSpecification":          map[string]any{"AttributeName": store.CatalogTTLAttribute, "Enabled": true},
		})
	})
}

// TestCellsUsersRoleTrustsOnlyItsCell: each cell's users role in the router
// account may be assumed only from that cell's account, and there only by
// the roles of the functions that manage users (named, in the cell's App
// stack); it allows those functions' Cognito actions on the global pool.
func TestCellsUsersRoleTrustsOnlyItsCell(t *testing.T) {
	s := synthCellsApp(t)
	router := s.template(t, routerStackName)
	poolLogical := router.logicalID(t, "AWS::Cognito::UserPool", "UserPool")
	var wantActions []string
	for _, spec := range userManagers() {
		for _, a := range spec.UserPoolActions {
			if !slices.Contains(wantActions, a) {
				wantActions = append(wantActions, a)
			}
		}
	}
	slices.Sort(wantActions)
	for _, c := range testCells {
		id, account := c["id"].(string), c["account"].(string)
		t.Run(id, func(t *testing.T) {
			name := "tessera-" + testStage + "-" + id + "-users"
			var roleID string
			for rid, r := range router.resources("AWS::IAM::Role") {
				if props(r)["RoleName"] == name {
					roleID = rid
				}
			}
			if roleID == "" {
				t.Fatalf("no role %s in the router stack", name)
			}
			var principals []string
			for _, mgr := range userManagers() {
				principals = append(principals, "arn:aws:iam::"+account+":role/tessera-"+testStage+"-"+id+"-"+string(mgr.Name))
			}
			slices.Sort(principals)
			trust := list(props(router.resources("AWS::IAM::Role")[roleID])["AssumeRolePolicyDocument"].(map[string]any)["Statement"])
			if len(trust) != 1 {
				t.Fatalf("trust policy has %d statements, want 1: %s", len(trust), jsonOf(trust))
			}
			st := trust[0].(map[string]any)
			p, _ := st["Principal"].(map[string]any)
			if got := literalPartition(p["AWS"]); st["Effect"] != "Allow" || got != "arn:aws:iam::"+account+":root" || len(p) != 1 {
				t.Errorf("trusts %s, want the account %s only", jsonOf(st["Principal"]), account)
			}
			if a := strs(st["Action"]); !slices.Equal(a, []string{"sts:AssumeRole"}) {
				t.Errorf("trust actions %v, want sts:AssumeRole", a)
			}
			cond, _ := st["Condition"].(map[string]any)
			arnEq, _ := cond["ArnEquals"].(map[string]any)
			var got []string
			for _, v := range list(arnEq["aws:PrincipalArn"]) {
				got = append(got, literalPartition(v))
			}
			slices.Sort(got)
			if len(cond) != 1 || len(arnEq) != 1 || !slices.Equal(got, principals) {
				t.Errorf("trust condition %s, want ArnEquals aws:PrincipalArn %v", jsonOf(cond), principals)
			}
			var actions []string
			for _, st := range roleStatements(router, roleID) {
				actions = append(actions, strs(st["Action"])...)
				if r := sortedFlat(st["Resource"]); !slices.Equal(r, []string{"${" + poolLogical + ".Arn}"}) {
					t.Errorf("users role statement on %v, want the pool only", r)
				}
			}
			slices.Sort(actions)
			if !slices.Equal(actions, wantActions) {
				t.Errorf("users role actions %v, want %v", actions, wantActions)
			}
			// The principals are the cell's function roles, by name.
			app := s.template(t, cellStack(id, "App"))
			for _, mgr := range userManagers() {
				rid := app.logicalID(t, "AWS::IAM::Role", fnID(mgr.Name)+"FunctionRole")
				if n := props(app.resources("AWS::IAM::Role")[rid])["RoleName"]; n != "tessera-"+testStage+"-"+id+"-"+string(mgr.Name) {
					t.Errorf("cell %s: %s function role named %v", id, mgr.Name, n)
				}
			}
		})
	}
}

// TestCellsBadContext: a multi-cell context that cannot work fails synth,
// and says why; the cdk.json form (an array) is accepted.
func TestCellsBadContext(t *testing.T) {
	noAccount := []map[string]any{testCells[0], {"id": "c2", "apiUrl": "https://c2.example", "open": true}}
	otherRegion := []map[string]any{testCells[0], {"id": "c2", "account": "222222222222", "region": "eu-central-1", "apiUrl": "https://c2.example", "open": true}}
	sharedAccount := []map[string]any{testCells[0], {"id": "c2", "account": "111111111111", "apiUrl": "https://c2.example", "open": true}}
	for _, tc := range []struct {
		name     string
		override map[string]any
		want     string // in the error; "" for none
	}{
		{"malformed cells JSON", map[string]any{"cells": `[{"id":"c1",`}, "context cells: cell map"},
		{"cells neither JSON nor a list", map[string]any{"cells": 42.0}, "context cells"},
		{"cell without account", map[string]any{"cells": noAccount}, "cell c2 has no account"},
		{"two cells in one account", map[string]any{"cells": sharedAccount}, "share account 111111111111"},
		{"missing routerAccount", map[string]any{"routerAccount": nil}, "context routerAccount"},
		{"malformed routerAccount", map[string]any{"routerAccount": "12345"}, "context routerAccount"},
		{"routerAccount a cell's account", map[string]any{"routerAccount": "111111111111"}, "context routerAccount"},
		{"missing routerRegion", map[string]any{"routerRegion": nil}, "context routerRegion"},
		{"cell in another Region", map[string]any{"cells": otherRegion}, "cell c2: region \"eu-central-1\" is not the router's Region"},
		{"userPoolId of another Region", map[string]any{"userPoolId": "us-east-1_Tess3raP00l"}, "context userPoolId"},
		{"userPoolId without appClientId", map[string]any{"appClientId": nil}, "appClientId"},
		{"routerAccount without cells", map[string]any{"cells": nil}, "context cells"},
		{"cells as a list (cdk.json)", map[string]any{"cells": testCells}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, err := repoRoot()
			if err != nil {
				t.Fatal(err)
			}
			app, err := newApp(root, t.TempDir(), cellsContext(testStage, tc.override))
			if err != nil {
				t.Fatal(err)
			}
			_, err = configFrom(app)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("configFrom: %v, want no error", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("configFrom: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// errorsOf returns the error annotations of a stack's tree.
func errorsOf(c awscdk.Stack) []string {
	var out []string
	for _, n := range *c.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		for _, m := range *n.Node().Metadata() {
			if *m.Type == "aws:cdk:error" {
				out = append(out, jsonOf(m.Data))
			}
		}
	}
	return out
}

// TestCellsWithoutUserPoolFailSynth: before the Router stack is deployed
// there is no pool id: the Router stack synthesizes alone (phase one of the
// deploy), and every cell stack is an error naming the context keys to set.
// In prod the router's table and pool are retained and protected.
func TestCellsWithoutUserPoolFailSynth(t *testing.T) {
	s, err := synthCells(cellsContext("prod", map[string]any{
		"userPoolId": nil, "appClientId": nil, ctxSESFrom: "invites@tessera.example",
	}), false)
	if err != nil {
		t.Fatal(err)
	}
	router, ok := s.Stacks["Tessera-prod-Router"]
	if !ok {
		t.Fatalf("no router stack: %v", keys(s.Stacks))
	}
	if errs := errorsOf(router); len(errs) > 0 {
		t.Errorf("router stack has errors %v, want none", errs)
	}
	for _, c := range testCells {
		for _, kind := range []string{"Data", "App"} {
			name := "Tessera-prod-" + c["id"].(string) + "-" + kind
			st, ok := s.Stacks[name]
			if !ok {
				t.Errorf("no stack %s", name)
				continue
			}
			errs := strings.Join(errorsOf(st), " ")
			for _, want := range []string{"userPoolId", "appClientId", "Tessera-prod-Router"} {
				if !strings.Contains(errs, want) {
					t.Errorf("%s: errors %q, want one naming %s", name, errs, want)
				}
			}
		}
	}
	tmpl := assertions.Template_FromStack(router, nil)
	check(t, "retained", func() {
		for _, typ := range []string{"AWS::DynamoDB::Table", "AWS::Cognito::UserPool"} {
			tmpl.AllResources(jsii.String(typ), map[string]any{"DeletionPolicy": "Retain"})
		}
		tmpl.HasResourceProperties(jsii.String("AWS::DynamoDB::Table"), map[string]any{"DeletionProtectionEnabled": true})
		tmpl.HasResourceProperties(jsii.String("AWS::Cognito::UserPool"), map[string]any{"DeletionProtection": "ACTIVE"})
	})
}

// TestCellsCfnLint runs cfn-lint over the multi-cell templates, as
// TestCfnLint does over the single-cell ones.
func TestCellsCfnLint(t *testing.T) {
	s := synthCellsApp(t)
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	lint := filepath.Join(root, ".venv", "bin", "cfn-lint")
	if _, err := os.Stat(lint); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cfn-lint not installed (%v): run `make tools`", err)
		}
		t.Skipf("cfn-lint not installed (%v): run `make tools`", err)
	}
	templates, err := filepath.Glob(filepath.Join(s.Outdir, "*.template.json"))
	if want := 3*len(testCells) + 2; err != nil || len(templates) != want {
		t.Fatalf("templates in %s: %v (%v), want %d", s.Outdir, templates, err, want)
	}
	args := []string{}
	for rule := range cfnLintIgnored {
		args = append(args, "--ignore-checks", rule)
	}
	args = append(append(args, "--"), templates...)
	if out, err := exec.Command(lint, args...).CombinedOutput(); err != nil {
		t.Errorf("cfn-lint %v: %v\n%s", args, err, out)
	}
}
