package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// buildFunctions cross-compiles the functions of specs for the Lambda runtime
// (provided.al2023, arm64) into distDir/<name>/bootstrap, so that `cdk synth`
// and `cdk deploy` never package stale binaries and never need Docker. The
// flags make the build reproducible (-trimpath, -buildvcs=false), so an
// unchanged function keeps its asset hash and is not redeployed.
func buildFunctions(root, distDir string, specs []functionSpec) error {
	for _, spec := range specs {
		name := string(spec.Name)
		out := filepath.Join(distDir, name, "bootstrap")
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-buildvcs=false",
			"-ldflags", "-s -w", "-o", out, "./functions/"+name)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = os.Stderr, &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build function %s: %w\n%s", name, err, stderr.String())
		}
	}
	return nil
}
