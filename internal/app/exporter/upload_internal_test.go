package exporter

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/tessera-saas/tessera/internal/local/testenv"
	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/awsconfig"
	"github.com/tessera-saas/tessera/internal/platform/entityid"
)

// quietChecksums silences the SDK's note that the emulator's GetObject
// responses carry no checksum.
func quietChecksums(o *s3.Options) { o.DisableLogOutputChecksumValidationSkipped = true }

// TestUploadStreamsInParts writes objects of several sizes through the
// streamed upload, in uneven writes, and reads them back: below one part
// it is one PutObject, above it a multipart upload of MinPartSize parts.
func TestUploadStreamsInParts(t *testing.T) {
	e := testenv.Setup(t)
	ctx := context.Background()
	c := awsconfig.NewS3(e.Config, quietChecksums)
	creds, err := access.NewCredentials(sts.NewFromConfig(e.Config), e.Settings.DataAccessRoleARN).ForTenant(ctx, "t-upload")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		size      int
		wantParts int
	}{
		{"empty", 0, 0},
		{"small", 1234, 0},
		{"one byte short of a part", MinPartSize - 1, 0},
		{"exactly one part", MinPartSize, 1},
		{"two parts and a bit", 2*MinPartSize + 777, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := make([]byte, tc.size)
			for i := range want {
				want[i] = byte('a' + i%26)
			}
			target := objectTarget{bucket: e.Settings.ExportBucket, key: "t-upload/exports/" + entityid.New() + ".jsonl",
				tenantID: "t-upload", keyARN: "arn:aws:kms:us-east-1:123456789012:key/upload-test", creds: creds}
			up := newUpload(ctx, c, target, MinPartSize)
			for rest := want; len(rest) > 0; {
				k := min(len(rest), 100_003) // uneven writes cross part boundaries
				if n, err := up.Write(rest[:k]); err != nil || n != k {
					t.Fatalf("write: %d, %v", n, err)
				}
				rest = rest[k:]
			}
			size, err := up.Close()
			if err != nil || size != int64(tc.size) {
				t.Fatalf("close: %d, %v", size, err)
			}
			if len(up.parts) != tc.wantParts {
				t.Fatalf("%d parts, want %d", len(up.parts), tc.wantParts)
			}
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(target.bucket), Key: aws.String(target.key)})
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(out.Body)
			out.Body.Close()
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("read back %d bytes (%v), want %d identical bytes", len(got), err, len(want))
			}
			if out.ServerSideEncryption != s3types.ServerSideEncryptionAwsKms || aws.ToString(out.SSEKMSKeyId) != target.keyARN {
				t.Fatalf("object encrypted with %q %q, want the tenant's key", out.ServerSideEncryption, aws.ToString(out.SSEKMSKeyId))
			}
		})
	}
}

// TestAbortedUploadLeavesNothing: a run that fails after sending parts
// aborts its upload; no object and no pending upload remain.
func TestAbortedUploadLeavesNothing(t *testing.T) {
	e := testenv.Setup(t)
	ctx := context.Background()
	c := awsconfig.NewS3(e.Config, quietChecksums)
	target := objectTarget{bucket: e.Settings.ExportBucket, key: "t-upload/exports/" + entityid.New() + ".jsonl",
		tenantID: "t-upload", keyARN: "arn:aws:kms:us-east-1:123456789012:key/upload-test"}
	creds, err := access.NewCredentials(sts.NewFromConfig(e.Config), e.Settings.DataAccessRoleARN).ForTenant(ctx, "t-upload")
	if err != nil {
		t.Fatal(err)
	}
	target.creds = creds
	up := newUpload(ctx, c, target, MinPartSize)
	if _, err := up.Write(make([]byte, MinPartSize+10)); err != nil {
		t.Fatal(err)
	}
	if up.uploadID == "" || len(up.parts) != 1 {
		t.Fatalf("no part sent before the abort (upload %q, %d parts)", up.uploadID, len(up.parts))
	}
	if err := up.Abort(); err != nil {
		t.Fatal(err)
	}
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(target.bucket), Key: aws.String(target.key)})
	var nf *s3types.NotFound
	if !errors.As(err, &nf) {
		t.Fatalf("object after abort: err = %v, want NotFound", err)
	}
	list, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(target.bucket), Prefix: aws.String(target.key)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Uploads) != 0 {
		t.Fatalf("uploads left after abort: %d", len(list.Uploads))
	}
}
