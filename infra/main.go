package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/jsii-runtime-go"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(1)
	}
}

func run() error {
	writeTenant := flag.String("write-tenant-template", "", "write the TenantStack template to this file and exit")
	flag.Parse()
	defer jsii.Close()

	root, err := repoRoot()
	if err != nil {
		return err
	}
	if *writeTenant != "" {
		return writeTenantTemplate(root, *writeTenant)
	}

	distDir := filepath.Join(root, "dist")
	if os.Getenv("TESSERA_SKIP_BUILD") != "1" {
		if err := buildFunctions(root, distDir); err != nil {
			return err
		}
	}
	app, err := newApp(root, "", nil)
	if err != nil {
		return err
	}
	cfg, err := configFrom(app)
	if err != nil {
		return err
	}
	if _, err := newStacks(app, cfg, distDir); err != nil {
		return err
	}
	app.Synth(nil)
	return nil
}
