package awsconfig_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tessera-saas/tessera/internal/platform/awsconfig"
)

func TestNewS3UsesPathStyleOnlyWithAnEndpointOverride(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		base     *string
		wantPath bool
	}{
		{"real AWS", nil, nil, false},
		{"AWS_ENDPOINT_URL", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}, nil, true},
		{"AWS_ENDPOINT_URL_S3", map[string]string{"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:5000"}, nil, true},
		{"endpoint in the config", nil, aws.String("http://127.0.0.1:5000"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("AWS_ENDPOINT_URL", "")
			t.Setenv("AWS_ENDPOINT_URL_S3", "")
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			c := awsconfig.NewS3(aws.Config{Region: "us-east-1", BaseEndpoint: tc.base})
			if got := c.Options().UsePathStyle; got != tc.wantPath {
				t.Fatalf("UsePathStyle = %v, want %v", got, tc.wantPath)
			}
		})
	}
}
