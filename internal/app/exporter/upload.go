package exporter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/tessera-saas/tessera/internal/platform/access"
	"github.com/tessera-saas/tessera/internal/platform/export"
)

// Objects is the part of the S3 API the worker uses; *s3.Client satisfies
// it.
type Objects interface {
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	CreateMultipartUpload(context.Context, *s3.CreateMultipartUploadInput, ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	UploadPart(context.Context, *s3.UploadPartInput, ...func(*s3.Options)) (*s3.UploadPartOutput, error)
	CompleteMultipartUpload(context.Context, *s3.CompleteMultipartUploadInput, ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(context.Context, *s3.AbortMultipartUploadInput, ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
}

// Part sizes of the streamed upload. S3 wants every part but the last to be
// at least 5 MiB, and allows 10,000 parts: at the default size an export
// object can reach 78 GiB while the worker holds one part in memory.
const (
	MinPartSize     = 5 << 20
	DefaultPartSize = 8 << 20
	maxParts        = 10000
)

// ErrTooLarge means an export outgrew the 10,000 parts of an upload.
var ErrTooLarge = errors.New("exporter: export larger than an upload can hold")

// objectTarget is where and how one export object is written.
type objectTarget struct {
	bucket, key string
	// tenantID and keyARN encrypt the object with the tenant's own KMS key
	// (SSE-KMS), with encryption context tenantId=<tenant>, which the
	// tenant's key policy and TenantDataAccessRole demand: offboarding,
	// which schedules the key's deletion, makes the export unreadable too.
	tenantID, keyARN string
	// creds are the tenant's scoped credentials: the session may write
	// only under "<tenantId>/" (access.Resources.ExportBucketARN).
	creds aws.CredentialsProvider
}

func (t objectTarget) opts(o *s3.Options) { o.Credentials = t.creds }

// upload streams one object with bounded memory: an object smaller than a
// part is sent with one PutObject; a larger one becomes a multipart upload
// whose parts are sent as they fill. Nothing is visible under the key until
// Close succeeds; Abort discards the parts sent so far.
type upload struct {
	ctx      context.Context
	c        Objects
	t        objectTarget
	partSize int
	buf      []byte
	uploadID string
	parts    []s3types.CompletedPart
	size     int64
}

func newUpload(ctx context.Context, c Objects, t objectTarget, partSize int) *upload {
	// The buffer grows as lines come, so a small export holds little.
	return &upload{ctx: ctx, c: c, t: t, partSize: partSize}
}

// Write buffers p, sending a part whenever the buffer holds a full one.
func (u *upload) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(u.partSize-len(u.buf), len(p))
		u.buf = append(u.buf, p[:k]...)
		p, n = p[k:], n+k
		if len(u.buf) == u.partSize {
			if err := u.sendPart(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func (u *upload) sendPart() error {
	if len(u.parts) == maxParts {
		return fmt.Errorf("upload %s: %w", u.t.key, ErrTooLarge)
	}
	if u.uploadID == "" {
		out, err := u.c.CreateMultipartUpload(u.ctx, &s3.CreateMultipartUploadInput{
			Bucket: aws.String(u.t.bucket), Key: aws.String(u.t.key), ContentType: aws.String(export.ContentType),
			ServerSideEncryption: s3types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(u.t.keyARN),
			SSEKMSEncryptionContext: aws.String(access.ObjectEncryptionContext(u.t.tenantID)),
			// The SDK sends a CRC32 with every part; S3 refuses to complete
			// an upload begun without an algorithm whose parts name one
			// (InvalidPart), so the upload declares it.
			ChecksumAlgorithm: s3types.ChecksumAlgorithmCrc32,
		}, u.t.opts)
		if err != nil {
			return fmt.Errorf("start upload of %s: %w", u.t.key, err)
		}
		u.uploadID = aws.ToString(out.UploadId)
	}
	num := int32(len(u.parts) + 1)
	out, err := u.c.UploadPart(u.ctx, &s3.UploadPartInput{
		Bucket: aws.String(u.t.bucket), Key: aws.String(u.t.key), UploadId: aws.String(u.uploadID),
		PartNumber: aws.Int32(num), Body: bytes.NewReader(u.buf), ContentLength: aws.Int64(int64(len(u.buf))),
		ChecksumAlgorithm: s3types.ChecksumAlgorithmCrc32,
	}, u.t.opts)
	if err != nil {
		return fmt.Errorf("upload part %d of %s: %w", num, u.t.key, err)
	}
	u.parts = append(u.parts, s3types.CompletedPart{PartNumber: aws.Int32(num), ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32})
	u.size += int64(len(u.buf))
	u.buf = u.buf[:0]
	return nil
}

// Close makes the object visible and returns its size in bytes.
func (u *upload) Close() (int64, error) {
	if u.uploadID == "" {
		_, err := u.c.PutObject(u.ctx, &s3.PutObjectInput{
			Bucket: aws.String(u.t.bucket), Key: aws.String(u.t.key), ContentType: aws.String(export.ContentType),
			Body: bytes.NewReader(u.buf), ContentLength: aws.Int64(int64(len(u.buf))),
			ServerSideEncryption: s3types.ServerSideEncryptionAwsKms, SSEKMSKeyId: aws.String(u.t.keyARN),
			SSEKMSEncryptionContext: aws.String(access.ObjectEncryptionContext(u.t.tenantID)),
		}, u.t.opts)
		if err != nil {
			return 0, fmt.Errorf("put %s: %w", u.t.key, err)
		}
		return int64(len(u.buf)), nil
	}
	if len(u.buf) > 0 {
		if err := u.sendPart(); err != nil {
			return 0, err
		}
	}
	_, err := u.c.CompleteMultipartUpload(u.ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(u.t.bucket), Key: aws.String(u.t.key), UploadId: aws.String(u.uploadID),
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: u.parts},
	}, u.t.opts)
	if err != nil {
		return 0, fmt.Errorf("complete upload of %s: %w", u.t.key, err)
	}
	return u.size, nil
}

// Abort discards a multipart upload begun and not completed (its parts
// would otherwise be stored, and billed, until a lifecycle rule removes
// them). It runs even when the upload's context has ended.
func (u *upload) Abort() error {
	if u.uploadID == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(u.ctx), 10*time.Second)
	defer cancel()
	_, err := u.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(u.t.bucket), Key: aws.String(u.t.key), UploadId: aws.String(u.uploadID),
	}, u.t.opts)
	if err != nil {
		return fmt.Errorf("abort upload of %s: %w", u.t.key, err)
	}
	return nil
}
