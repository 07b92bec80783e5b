// Package arch owns Tessera's architecture rules, checked by its tests over
// what `go list -e -deps ./...` reports for the module. It has no code of
// its own.
//
// The rules are data (rules_test.go) run by one check function:
//
//   - in-a-plane: every package belongs to a plane, the longest prefix of its
//     path in the plane table: internal/platform, internal/app,
//     internal/control, internal/wire, internal/local, internal/arch,
//     functions, cmd.
//   - plane-imports: the package code (non-test files) of a plane imports only
//     the planes of its row: the platform only itself; the app and the
//     control plane themselves and the platform, so they meet only in the
//     platform; wire the app, control and platform; functions only wire (and
//     libraries); local and cmd every internal plane.
//   - plane-test-imports: test files follow the same rows, plus the test
//     harness internal/local and internal/wire; an app test still does not
//     import the control plane, nor the other way round.
//   - no-local-in-lambdas: no binary under functions/ links a package of
//     internal/local, however indirectly (what `go list -deps` names).
//   - dynamodb-only-in-store: only internal/platform/store (and the
//     bootstrap, which creates the tables) imports the DynamoDB client.
//   - kms-only-in-crypto: only internal/platform/crypto (and the key
//     lifecycle in internal/control/tenantkey and bootstrap/provisioning)
//     uses KMS data operations.
//   - package-doc: every plane folder and every package under internal/ has
//     a doc.go with a package comment.
//
// A package go list cannot load is reported (go-list-loads), not skipped.
// Libraries are not restricted but for the DynamoDB and KMS clients. The
// same check runs over the fixture module in testdata/badplanes, which
// plants violations of each rule next to clean packages, so the tests show
// that a wrong import fails the guard.
package arch
