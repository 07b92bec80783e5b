// Package awsconfig owns the one function every AWS client in Tessera is
// built from. It loads the SDK's default configuration, so the standard
// AWS_ENDPOINT_URL and per-service AWS_ENDPOINT_URL_<SERVICE> variables send
// the same binaries to real AWS, LocalStack or the local emulators.
//
// See https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html
package awsconfig
