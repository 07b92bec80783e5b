package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/aws/jsii-runtime-go"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(1)
	}
}

func run() error {
	writeTenant := flag.String("write-tenant-template", "", "write the TenantStack template to this file (relative to the repository root) and exit")
	flag.Parse()
	defer jsii.Close()

	root, err := repoRoot()
	if err != nil {
		return err
	}
	if *writeTenant != "" {
		return writeTenantTemplate(root, fromRoot(root, *writeTenant))
	}

	// The app runs in infra/ (cdk.json: "go run -C infra ."), and so does
	// the CDK's node process, which the package's variables start before
	// main. The cdk CLI runs in the repository root, where cdk.json is, and
	// names its output directory relative to that (CDK_OUTDIR=cdk.out): pass
	// it on resolved, or the app would write infra/cdk.out.
	outdir := os.Getenv("CDK_OUTDIR")
	if outdir != "" {
		outdir = fromRoot(root, outdir)
	}
	app, err := newApp(root, outdir, nil)
	if err != nil {
		return err
	}
	cfg, err := configFrom(app)
	if err != nil {
		return err
	}
	distDir := filepath.Join(root, "dist")
	if os.Getenv("TESSERA_SKIP_BUILD") != "1" {
		specs := functionSpecs
		if cfg.Cells != nil {
			specs = append(slices.Clone(specs), routerSpec)
		}
		if err := buildFunctions(root, distDir, specs); err != nil {
			return err
		}
	}
	if _, err := newStacks(app, cfg, distDir); err != nil {
		return err
	}
	app.Synth(nil)
	return nil
}

// fromRoot resolves a relative path against the repository root, so that
// paths mean the same whether the app was started in the root or in infra/.
func fromRoot(root, path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(root, path)
}
