package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// config is what varies between deployments.
type config struct {
	// Stage names the deployment ("dev", "prod"); it is part of every stack
	// and resource name, so stages can share an account.
	Stage string
	// Env is the target account and Region, or nil for environment-agnostic
	// stacks (resolved by CloudFormation at deploy time).
	Env *awscdk.Environment
	// Cells is the multi-cell configuration (context cells), nil for a
	// stage of one cell in one account.
	Cells *cellsConfig
	// Cell is set on the configuration of one cell's Data and App stacks
	// in a multi-cell stage.
	Cell *cellDeployment
	// DR is where the backup bucket is replicated (contexts drRegion and
	// drReplicationTimeControl), nil for no replication.
	DR *drConfig
}

// Prod reports whether the stage is production: tables and the user pool
// are then protected from deletion and retained when the stack goes.
func (c config) Prod() bool { return c.Stage == "prod" }

var stagePattern = regexp.MustCompile(`^[a-z][a-z0-9]{0,11}$`)

// configFrom reads the stage and environment from the app's context, then
// from CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION (set by the cdk CLI when it
// finds credentials). With neither, the stacks are environment-agnostic, so
// that synth works on a machine without AWS credentials.
func configFrom(app awscdk.App) (config, error) {
	ctx := contextStrings(app)
	cfg := config{Stage: ctx("stage")}
	if cfg.Stage == "" {
		cfg.Stage = "dev"
	}
	if !stagePattern.MatchString(cfg.Stage) {
		return config{}, fmt.Errorf("config: stage %q does not match %s", cfg.Stage, stagePattern)
	}
	account, region := ctx("account"), ctx("region")
	if account == "" {
		account = os.Getenv("CDK_DEFAULT_ACCOUNT")
	}
	if region == "" {
		region = os.Getenv("CDK_DEFAULT_REGION")
	}
	if account != "" || region != "" {
		cfg.Env = &awscdk.Environment{}
		if account != "" {
			cfg.Env.Account = jsii.String(account)
		}
		if region != "" {
			cfg.Env.Region = jsii.String(region)
		}
	}
	cells, err := cellsFrom(app, ctx)
	if err != nil {
		return config{}, err
	}
	cfg.Cells = cells
	primary := region
	if cells != nil {
		primary = cells.RouterRegion // every cell is in the router's Region
	}
	if cfg.DR, err = drFrom(app, ctx, primary, cfg.Prod()); err != nil {
		return config{}, err
	}
	return cfg, nil
}

// contextStrings reads string context values of app ("" when unset or not
// a string).
func contextStrings(app awscdk.App) func(string) string {
	return func(key string) string {
		if v, ok := app.Node().TryGetContext(jsii.String(key)).(string); ok {
			return v
		}
		return ""
	}
}

// stacks are the stacks of one deployment: Data and App for a single cell
// (and DR, the backup replicas), or Router and Cells for a multi-cell
// stage; and TenantStack.
type stacks struct {
	Data   *DataStack
	App    *AppStack
	DR     *DRStack
	Router *RouterStack
	Cells  []cellStacks
	Tenant awscdk.Stack
}

// newStacks adds every stack to app. codeDir holds one directory per
// function with its bootstrap binary (dist/ normally).
func newStacks(app awscdk.App, cfg config, codeDir string) (stacks, error) {
	if cfg.Cells != nil {
		st, err := newCellStacks(app, cfg, codeDir)
		if err != nil {
			return stacks{}, err
		}
		st.Tenant = NewTenantStack(app, tenantStackID, &TenantStackProps{})
		return st, nil
	}
	prefix := "Tessera-" + cfg.Stage + "-"
	dr := newDRStack(app, prefix+"DR", cfg, cfg.Env, "")
	data := NewDataStack(app, prefix+"Data", &DataStackProps{
		StackProps: awscdk.StackProps{Env: cfg.Env, Description: jsii.String("Tessera " + cfg.Stage + ": data and control plane")},
		Config:     cfg,
	})
	dependOnDR(data, dr)
	appStack, err := NewAppStack(app, prefix+"App", &AppStackProps{
		StackProps: awscdk.StackProps{Env: cfg.Env, Description: jsii.String("Tessera " + cfg.Stage + ": app plane (API, functions, roles)")},
		Config:     cfg,
		Data:       data,
		CodeDir:    codeDir,
	})
	if err != nil {
		return stacks{}, err
	}
	tenant := NewTenantStack(app, tenantStackID, &TenantStackProps{})
	return stacks{Data: data, App: appStack, DR: dr, Tenant: tenant}, nil
}

// newApp returns an App with the context of cdk.json (so that `go run -C
// infra .` and the tests synthesize what `cdk synth` does) and then
// override, which wins over everything, the cdk CLI's context included.
// outdir is the cloud assembly directory; "" leaves it to the cdk CLI
// (CDK_OUTDIR) or a temporary directory.
func newApp(root, outdir string, override map[string]any) (awscdk.App, error) {
	cdkContext, err := loadCDKContext(root)
	if err != nil {
		return nil, err
	}
	props := &awscdk.AppProps{Context: &cdkContext}
	if outdir != "" {
		props.Outdir = jsii.String(outdir)
	}
	if override != nil {
		props.PostCliContext = &override
	}
	return awscdk.NewApp(props), nil
}

// loadCDKContext reads the "context" object of cdk.json.
func loadCDKContext(root string) (map[string]any, error) {
	b, err := os.ReadFile(filepath.Join(root, "cdk.json"))
	if err != nil {
		return nil, fmt.Errorf("read cdk.json: %w", err)
	}
	var f struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("parse cdk.json: %w", err)
	}
	if f.Context == nil {
		f.Context = map[string]any{}
	}
	return f.Context, nil
}

// repoRoot walks up from the working directory to the repository root: the
// directory holding both go.mod and cdk.json. infra/ has a go.mod of its own
// (the CDK app is a module apart from the Lambda module) but no cdk.json, so
// the app finds the same root from the repository root (cdk, make synth) and
// from infra/ (go test, go run).
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repo root: %w", err)
	}
	for {
		found := true
		for _, name := range []string{"go.mod", "cdk.json"} {
			if _, err := os.Stat(filepath.Join(dir, name)); errors.Is(err, os.ErrNotExist) {
				found = false
			} else if err != nil {
				return "", fmt.Errorf("find repo root: %w", err)
			}
		}
		if found {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find repo root: no directory with go.mod and cdk.json above the working directory")
		}
		dir = parent
	}
}
