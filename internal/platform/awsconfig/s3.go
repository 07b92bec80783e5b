package awsconfig

import (
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// NewS3 returns the S3 client on cfg. Its endpoint comes from
// AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL when set (the SDK resolves them);
// such an endpoint is an emulator or a proxy on one host name, so buckets are
// then addressed path-style (http://host/bucket/key) instead of by virtual
// host (bucket.host).
func NewS3(cfg aws.Config, optFns ...func(*s3.Options)) *s3.Client {
	pathStyle := cfg.BaseEndpoint != nil || os.Getenv("AWS_ENDPOINT_URL_S3") != "" || os.Getenv("AWS_ENDPOINT_URL") != ""
	return s3.NewFromConfig(cfg, append([]func(*s3.Options){func(o *s3.Options) {
		o.UsePathStyle = pathStyle
		// Emulators return no checksum of objects; the SDK would log that
		// on every read (the check itself still runs where one is returned).
		o.DisableLogOutputChecksumValidationSkipped = true
	}}, optFns...)...)
}
