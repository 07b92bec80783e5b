// Test-only IAM simulator (npm); its own go.mod keeps node_modules out of
// the main module.
module tessera.invalid/tools/iamsim

go 1.26
