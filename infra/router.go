package main

import (
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscognito"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/tessera-saas/tessera/internal/platform/cell"
	"github.com/tessera-saas/tessera/internal/platform/route"
	"github.com/tessera-saas/tessera/internal/platform/settings"
	"github.com/tessera-saas/tessera/internal/platform/store"
)

// routerSpec is the cell router's function (functions/router): it serves
// route.Router, places new tenants in cells (the directory table) and
// forwards operator requests to the tenants' cells over HTTPS.
var routerSpec = functionSpec{
	Name:        route.FunctionRouter,
	Description: "Tessera cell router: tenant placement and operator requests forwarded to each tenant's cell",
	MemoryMB:    256,
	// Longer than a cell function's 20 s (a forwarded request waits for
	// it), shorter than API Gateway's 29 s.
	Timeout: 25 * time.Second,
	Env: []string{
		settings.EnvStage, settings.EnvCells, settings.EnvDirectoryTable,
		settings.EnvUserPoolID, settings.EnvAppClientID, // it verifies ID tokens of the pool itself
	},
}

// directoryActions are the item actions of store.Directory: GetItem, and
// the Put, Update and Delete items of its transactions (TransactWriteItems
// is authorized item by item). No Query, no Scan, no index.
var directoryActions = []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}

// RouterStackProps configures the router stack of a multi-cell stage.
type RouterStackProps struct {
	awscdk.StackProps
	Config config
	// CodeDir holds router/bootstrap (dist/).
	CodeDir string
}

// RouterStack is what a multi-cell stage shares, in the router account:
// the global user pool (every cell's users sign in there; tokens are
// verified by JWKS anywhere), the cell directory, the router function and
// its API, and one users role per cell.
type RouterStack struct {
	Stack        awscdk.Stack
	UserPool     awscognito.UserPool
	AppClient    awscognito.UserPoolClient
	Directory    awsdynamodb.Table
	Function     awslambda.Function
	FunctionRole awsiam.Role
	API          awsapigateway.RestApi
	// UsersRoles are the roles the cells' functions assume to manage users
	// in the pool, by cell.
	UsersRoles map[cell.ID]awsiam.Role
}

// NewRouterStack defines the router stack.
func NewRouterStack(scope constructs.Construct, id string, props *RouterStackProps) (*RouterStack, error) {
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	cfg := props.Config
	r := &RouterStack{Stack: stack, UsersRoles: map[cell.ID]awsiam.Role{}}
	r.UserPool, r.AppClient = newUserPool(stack, cfg)
	r.Directory = newTable(stack, "DirectoryTable", cfg, noStream, store.CatalogTTLAttribute)

	r.FunctionRole = awsiam.NewRole(stack, jsii.String(fnID(routerSpec.Name)+"FunctionRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Execution role of the router function (the cell directory's items, nothing of a cell)"),
	})
	env := map[string]*string{
		settings.EnvStage:          jsii.String(cfg.Stage),
		settings.EnvCells:          jsii.String(cfg.Cells.JSON),
		settings.EnvDirectoryTable: r.Directory.TableName(),
		settings.EnvUserPoolID:     r.UserPool.UserPoolId(),
		settings.EnvAppClientID:    r.AppClient.UserPoolClientId(),
	}
	fn, _, err := newFunction(stack, cfg, routerSpec, r.FunctionRole, props.CodeDir, env)
	if err != nil {
		return nil, err
	}
	r.Function = fn
	// Directory items, in a hand-written statement: Table.Grant* would add
	// the indexes and more actions than store.Directory calls.
	r.FunctionRole.AddToPrincipalPolicy(statement("DirectoryItems", directoryActions, nil, r.Directory.TableArn()))

	api := newAPI(stack, cfg, apiSpec{
		Name: "tessera-" + cfg.Stage + "-router", Description: "Tessera " + cfg.Stage + " cell router API",
		Pool: r.UserPool, AuthorizerName: "tessera-" + cfg.Stage + "-router-cognito",
	})
	r.API = api.RestAPI
	if err := addRouterRoutes(api, fn); err != nil {
		return nil, err
	}

	outs := map[string]*string{
		"UserPoolId":         r.UserPool.UserPoolId(),
		"AppClientId":        r.AppClient.UserPoolClientId(),
		"UserPoolArn":        r.UserPool.UserPoolArn(),
		"DirectoryTableName": r.Directory.TableName(),
	}
	for _, c := range cfg.Cells.Map.Cells() {
		role := newUsersRole(stack, cfg, r.UserPool, c)
		r.UsersRoles[c.ID] = role
		outs["UsersRoleArn"+title(string(c.ID))] = role.RoleArn()
	}
	outputs(stack, outs)
	return r, nil
}

// addRouterRoutes adds one method per route of route.Router, proxied to the
// router function, every one behind the Cognito user pool authorizer (the
// operator routes and the tenant users' placement alike: the handler checks
// the operators group or the tenant claims in the verified token). The
// router API takes no API keys: tenants' usage plans are their cells'.
func addRouterRoutes(r restAPI, fn awslambda.Function) error {
	integ := awsapigateway.NewLambdaIntegration(fn, &awsapigateway.LambdaIntegrationOptions{
		Proxy: jsii.Bool(true), AllowTestInvoke: jsii.Bool(false),
	})
	for _, rt := range route.Router {
		if rt.Function != route.FunctionRouter {
			return fmt.Errorf("router route %s: function %q, want %q", rt.Key(), rt.Function, route.FunctionRouter)
		}
		if rt.Audience != route.Operator && rt.Audience != route.TenantUser {
			return fmt.Errorf("router route %s: audience %v has no authorizer on the router API", rt.Key(), rt.Audience)
		}
		r.RestAPI.Root().ResourceForPath(jsii.String(rt.Path)).AddMethod(jsii.String(rt.Method), integ, r.methodOptions(rt))
	}
	return nil
}

// newUsersRole defines cell c's users role: the Cognito admin actions of
// the functions that manage users (usersRoleActions) on the global pool,
// assumable only from c's account, and there only by those functions' roles
// (by name: the trust is an account principal with an aws:PrincipalArn
// condition, so it does not need the cell's roles to exist yet).
func newUsersRole(stack awscdk.Stack, cfg config, pool awscognito.UserPool, c cell.Cell) awsiam.Role {
	var principals []string
	for _, spec := range functionSpecs {
		if spec.managesUsers() {
			principals = append(principals, "arn:"+*stack.Partition()+":iam::"+c.Account+":role/"+cellFunctionRoleName(cfg.Stage, c.ID, spec.Name))
		}
	}
	role := awsiam.NewRole(stack, jsii.String("UsersRole"+title(string(c.ID))), &awsiam.RoleProps{
		RoleName:    jsii.String(usersRoleName(cfg.Stage, c.ID)),
		Description: jsii.String("Cell " + string(c.ID) + "'s functions manage the users of the global pool with it"),
		AssumedBy: awsiam.NewAccountPrincipal(jsii.String(c.Account)).WithConditions(&map[string]any{
			"ArnEquals": map[string]any{"aws:PrincipalArn": principals},
		}),
		MaxSessionDuration: awscdk.Duration_Hours(jsii.Number(1)),
	})
	pool.Grant(role, *jsii.Strings(usersRoleActions()...)...)
	return role
}
