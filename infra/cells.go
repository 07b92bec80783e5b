package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/tessera-saas/tessera/internal/platform/cell"
	"github.com/tessera-saas/tessera/internal/platform/route"
)

// Context keys of a multi-cell stage (cdk.json or `cdk deploy -c key=value`).
// Without ctxCells the stage is one cell (c1) in one account, as
// Tessera-<stage>-Data and -App.
const (
	// ctxCells is the cell map (internal/platform/cell.Parse): a JSON array,
	// as a string (-c) or as a list (cdk.json). Every cell has an account of
	// its own.
	ctxCells = "cells"
	// ctxRouterAccount and ctxRouterRegion are where the Router stack goes:
	// the global user pool, the directory table and the router API.
	ctxRouterAccount = "routerAccount"
	ctxRouterRegion  = "routerRegion"
	// ctxUserPoolID and ctxAppClientID are the global pool's ids, the Router
	// stack's outputs UserPoolId and AppClientId: the cell stacks import the
	// pool. Until they are set, only the Router stack can be deployed.
	ctxUserPoolID  = "userPoolId"
	ctxAppClientID = "appClientId"
)

// cellsConfig is the multi-cell part of a stage's configuration.
type cellsConfig struct {
	Map cell.Map
	// JSON is the map as the router function reads it (settings.EnvCells).
	JSON          string
	RouterAccount string
	RouterRegion  string
	// Pool is the global user pool, nil until the Router stack's outputs
	// are in the context.
	Pool *globalPool
}

// globalPool is the user pool of a multi-cell stage, in the router account.
type globalPool struct {
	ID, ClientID, Account, Region string
}

// ARN is the pool's ARN in partition.
func (p globalPool) ARN(partition string) string {
	return "arn:" + partition + ":cognito-idp:" + p.Region + ":" + p.Account + ":userpool/" + p.ID
}

// cellDeployment is what one cell's Data and App stacks know of the stage:
// their cell, the global pool, and the router account (its users role).
type cellDeployment struct {
	ID            cell.ID
	Pool          globalPool
	RouterAccount string
}

// UsersRoleARN is the ARN of the cell's users role in the router account.
func (d cellDeployment) UsersRoleARN(partition, stage string) string {
	return "arn:" + partition + ":iam::" + d.RouterAccount + ":role/" + usersRoleName(stage, d.ID)
}

// usersRoleName names the role in the router account that a cell's
// functions assume to manage users in the global pool.
func usersRoleName(stage string, id cell.ID) string {
	return "tessera-" + stage + "-" + string(id) + "-users"
}

// cellFunctionRoleName names, in a multi-cell stage, the role of a cell
// function that manages users: the users role trusts it by this name (a
// role in another account, which need not exist yet when the Router stack is
// deployed).
func cellFunctionRoleName(stage string, id cell.ID, fn route.Function) string {
	return "tessera-" + stage + "-" + string(id) + "-" + string(fn)
}

// managesUsers reports whether a function calls the pool's admin API.
func (s functionSpec) managesUsers() bool { return len(s.UserPoolActions) > 0 }

// usersRoleActions are the Cognito actions of the users role: those of
// the functions that manage users, together (they share their cell's role).
func usersRoleActions() []string {
	var out []string
	for _, spec := range functionSpecs {
		for _, a := range spec.UserPoolActions {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	slices.Sort(out)
	return out
}

var (
	accountPattern  = regexp.MustCompile(`^[0-9]{12}$`)
	regionPattern   = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
	poolIDPattern   = regexp.MustCompile(`^([a-z]{2}(-[a-z]+)+-[0-9])_[0-9A-Za-z]+$`)
	clientIDPattern = regexp.MustCompile(`^[0-9A-Za-z]{1,128}$`)
)

// cellsFrom reads the multi-cell context: nil without ctxCells (and then
// none of the other keys may be set).
func cellsFrom(app awscdk.App, ctx func(string) string) (*cellsConfig, error) {
	raw := app.Node().TryGetContext(jsii.String(ctxCells))
	if raw == nil {
		for _, k := range []string{ctxRouterAccount, ctxRouterRegion, ctxUserPoolID, ctxAppClientID} {
			if ctx(k) != "" {
				return nil, fmt.Errorf("config: context %s is set but context %s is not: %s is for a multi-cell stage", k, ctxCells, k)
			}
		}
		return nil, nil
	}
	var b []byte
	switch v := raw.(type) {
	case string:
		b = []byte(v)
	case []any:
		var err error
		if b, err = json.Marshal(v); err != nil {
			return nil, fmt.Errorf("config: context %s: %w", ctxCells, err)
		}
	default:
		return nil, fmt.Errorf("config: context %s must be a JSON array of cells (a string or a list), not %T", ctxCells, raw)
	}
	m, err := cell.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("config: context %s: %w", ctxCells, err)
	}
	c := &cellsConfig{Map: m, RouterAccount: ctx(ctxRouterAccount), RouterRegion: ctx(ctxRouterRegion)}
	if !accountPattern.MatchString(c.RouterAccount) {
		return nil, fmt.Errorf("config: context %s must be the router's 12-digit AWS account (the global user pool, directory and router API), not %q",
			ctxRouterAccount, c.RouterAccount)
	}
	if !regionPattern.MatchString(c.RouterRegion) {
		return nil, fmt.Errorf("config: context %s must be the router's AWS Region (such as eu-west-1), not %q", ctxRouterRegion, c.RouterRegion)
	}
	for _, cl := range m.Cells() {
		if cl.Account == "" {
			return nil, fmt.Errorf("config: context %s: cell %s has no account: every cell of a multi-cell stage is deployed to an account of its own", ctxCells, cl.ID)
		}
		if cl.Account == c.RouterAccount {
			return nil, fmt.Errorf("config: context %s %s is also cell %s's account: the router has an account of its own", ctxRouterAccount, c.RouterAccount, cl.ID)
		}
		// The functions reach the pool (its admin API, its JWKS) in the
		// Region of the pool id (settings.UserPoolRegion), but the cell
		// API's operator routes use a Cognito user pool authorizer on the
		// pool, which API Gateway documents across accounts, not across
		// Regions: a cell stays in the router's Region.
		if cl.Region != "" && cl.Region != c.RouterRegion {
			return nil, fmt.Errorf("config: context %s: cell %s: region %q is not the router's Region %s: the cell API's Cognito authorizer needs the user pool in its Region",
				ctxCells, cl.ID, cl.Region, c.RouterRegion)
		}
	}
	// The router function reads the map as given (checked above).
	c.JSON = string(b)

	poolID, clientID := ctx(ctxUserPoolID), ctx(ctxAppClientID)
	switch {
	case poolID == "" && clientID == "":
		// Phase one: the Router stack only (cellStacks says so).
	case poolID == "" || clientID == "":
		return nil, fmt.Errorf("config: contexts %s and %s go together (the Router stack's outputs UserPoolId and AppClientId)", ctxUserPoolID, ctxAppClientID)
	default:
		m := poolIDPattern.FindStringSubmatch(poolID)
		if m == nil || m[1] != c.RouterRegion {
			return nil, fmt.Errorf("config: context %s %q is not a user pool id of the router's Region %s (the Router stack's output UserPoolId)",
				ctxUserPoolID, poolID, c.RouterRegion)
		}
		if !clientIDPattern.MatchString(clientID) {
			return nil, fmt.Errorf("config: context %s %q is not an app client id (the Router stack's output AppClientId)", ctxAppClientID, clientID)
		}
		c.Pool = &globalPool{ID: poolID, ClientID: clientID, Account: c.RouterAccount, Region: c.RouterRegion}
	}
	return c, nil
}

// newCellStacks adds the stacks of a multi-cell stage: the Router stack in
// the router account, and per cell a Data and an App stack in the cell's
// account and Region (Tessera-<stage>-<cell>-Data, -App), which import the
// global user pool, and a DR stack in the cell's account and the DR Region
// (-DR). Without the pool's ids the cell stacks are empty and
// hold a synth error naming the context keys, so that the Router stack can
// be synthesized and deployed first.
func newCellStacks(app awscdk.App, cfg config, codeDir string) (stacks, error) {
	cc := cfg.Cells
	prefix := "Tessera-" + cfg.Stage + "-"
	router, err := NewRouterStack(app, prefix+"Router", &RouterStackProps{
		StackProps: awscdk.StackProps{
			Env:         &awscdk.Environment{Account: jsii.String(cc.RouterAccount), Region: jsii.String(cc.RouterRegion)},
			Description: jsii.String("Tessera " + cfg.Stage + ": cell router (global user pool, cell directory, router API)"),
		},
		Config:  cfg,
		CodeDir: codeDir,
	})
	if err != nil {
		return stacks{}, err
	}
	out := stacks{Router: router}
	for _, c := range cc.Map.Cells() {
		region := c.Region
		if region == "" {
			region = cc.RouterRegion
		}
		env := &awscdk.Environment{Account: jsii.String(c.Account), Region: jsii.String(region)}
		name := prefix + string(c.ID) + "-"
		if cc.Pool == nil {
			for _, kind := range []string{"Data", "App"} {
				st := awscdk.NewStack(app, jsii.String(name+kind), &awscdk.StackProps{Env: env})
				awscdk.Annotations_Of(st).AddError(jsii.String(fmt.Sprintf(
					"cell %s needs the global user pool: deploy %sRouter first, then set the context %s and %s to its outputs UserPoolId and AppClientId",
					c.ID, prefix, ctxUserPoolID, ctxAppClientID)))
			}
			continue
		}
		cellCfg := cfg
		cellCfg.Env = env
		cellCfg.Cell = &cellDeployment{ID: c.ID, Pool: *cc.Pool, RouterAccount: cc.RouterAccount}
		dr := newDRStack(app, name+"DR", cellCfg, env, string(c.ID))
		data := NewDataStack(app, name+"Data", &DataStackProps{
			StackProps: awscdk.StackProps{Env: env, Description: jsii.String("Tessera " + cfg.Stage + " cell " + string(c.ID) + ": data and control plane")},
			Config:     cellCfg,
		})
		dependOnDR(data, dr)
		appStack, err := NewAppStack(app, name+"App", &AppStackProps{
			StackProps: awscdk.StackProps{Env: env, Description: jsii.String("Tessera " + cfg.Stage + " cell " + string(c.ID) + ": app plane (API, functions, roles)")},
			Config:     cellCfg,
			Data:       data,
			CodeDir:    codeDir,
		})
		if err != nil {
			return stacks{}, err
		}
		out.Cells = append(out.Cells, cellStacks{ID: c.ID, Data: data, App: appStack, DR: dr})
	}
	return out, nil
}

// cellStacks are one cell's stacks.
type cellStacks struct {
	ID   cell.ID
	Data *DataStack
	App  *AppStack
	// DR holds the replicas of the cell's backups, in the cell's account
	// and the DR Region (nil without DR).
	DR *DRStack
}
