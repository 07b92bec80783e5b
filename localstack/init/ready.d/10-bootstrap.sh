#!/bin/sh
# Runs inside LocalStack once it is ready: the same idempotent bootstrap the
# Docker-free stack uses (tables, user pool + app client, event bus, export
# bucket and queues, usage plans), in account 123456789012 (LocalStack takes a
# 12-digit access key id for the account it names).
set -eu
export AWS_ENDPOINT_URL=http://localhost:4566 AWS_REGION=us-east-1 \
       AWS_ACCESS_KEY_ID=123456789012 AWS_SECRET_ACCESS_KEY=test
/opt/tessera/tessera bootstrap
