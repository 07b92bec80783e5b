// This directory holds the pinned aws-cdk CLI (npm). Its own go.mod keeps
// node_modules (which ships Go templates) out of the main module.
module tessera.invalid/tools/cdk

go 1.26
