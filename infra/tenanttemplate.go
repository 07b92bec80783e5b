package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/aws/jsii-runtime-go"
)

// synthTenantTemplate synthesizes TenantStack alone, in an app of its own
// whose context pins what would otherwise vary between `go run -C infra .` and
// `cdk synth` (path metadata, version reporting), and returns the template
// in its canonical form (see canonicalJSON).
func synthTenantTemplate(root string) ([]byte, error) {
	outdir, err := os.MkdirTemp("", "tessera-tenantstack-")
	if err != nil {
		return nil, fmt.Errorf("synth TenantStack: %w", err)
	}
	defer os.RemoveAll(outdir)
	app, err := newApp(root, outdir, map[string]any{
		"aws:cdk:enable-path-metadata": false,
		"aws:cdk:version-reporting":    false,
	})
	if err != nil {
		return nil, err
	}
	NewTenantStack(app, tenantStackID, &TenantStackProps{})
	tmpl := app.Synth(nil).GetStackArtifact(jsii.String(tenantStackID)).Template()
	raw, err := json.Marshal(tmpl)
	if err != nil {
		return nil, fmt.Errorf("synth TenantStack: encode template: %w", err)
	}
	return canonicalJSON(raw)
}

// canonicalJSON re-encodes a JSON document with sorted keys and two-space
// indentation, ending in a newline: the form of the checked-in copy, and the
// form in which the test compares it with a fresh synth.
func canonicalJSON(raw []byte) ([]byte, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("canonical JSON: %w", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("canonical JSON: %w", err)
	}
	return buf.Bytes(), nil
}

// writeTenantTemplate writes the TenantStack template to path.
func writeTenantTemplate(root, path string) error {
	b, err := synthTenantTemplate(root)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write TenantStack template: %w", err)
	}
	return nil
}
