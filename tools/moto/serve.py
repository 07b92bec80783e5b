"""Serve moto's WSGI application with waitress, with DynamoDB and SQS writes isolated.

The local stack's AWS emulator (started by internal/local/emulator). It replaces
`moto_server`, which serves the same application with werkzeug's development
server: that server closes every connection (thousands of sockets in TIME_WAIT
under load) and stalls all clients now and then. waitress keeps connections
alive and serves them from a pool of threads.

moto does not isolate concurrent requests: two conditional writes of one
DynamoDB item can both succeed, and TransactWriteItems deep-copies each table it
names for its rollback while other threads change it (500 "dictionary changed
size during iteration") and then puts that copy back over their writes.
DynamoDB's own single-item writes and transactions are atomic, so this server
models them with a readers-writer lock around every DynamoDB request: writes
(and anything not known to be a read) run alone, reads run together but never
during a write, where they could see a transaction's items before moto takes
them back. CloudFormation (its stacks create and delete tables) and POSTs to
/moto-api (reset) take the write side too. With writes one at a time, a
cancelled transaction only has to put back the items it names, so the
whole-table copy is replaced by a copy of those. The read set, that patch
and the token cache below are tools/moto/tessera_moto_isolation.py, which
the LocalStack plugin shares; this file is the WSGI side.

SQS's DeleteMessage rebuilds a queue's message list without a lock, so a
message sent meanwhile can be lost: sends, deletes, visibility changes and
purges take one SQS lock. ReceiveMessage does not (a long poll waits inside
moto and would hold off the sends it waits for); a receive racing a delete can
at worst return the message being deleted, which SQS's at-least-once delivery
allows anyway.

TransactWriteItems honours its ClientRequestToken, as DynamoDB does (see
honour_token). Responses with a 5xx status are logged, with the operation.

Usage (the same -H/-p contract as moto_server):
    .venv/bin/python tools/moto/serve.py -H 127.0.0.1 -p 5000
"""

import argparse
import collections
import io
import json
import logging
import os
import signal
import threading
import time
from contextlib import contextmanager
from urllib.parse import parse_qs

import tessera_moto_isolation as isolation  # beside this file (sys.path[0])

log = logging.getLogger("moto.serve")

# SQS operations that change a queue's message list or its messages.
SQS_WRITES = frozenset(
    {
        "ChangeMessageVisibility",
        "ChangeMessageVisibilityBatch",
        "DeleteMessage",
        "DeleteMessageBatch",
        "PurgeQueue",
        "SendMessage",
        "SendMessageBatch",
    }
)


class ReadWriteLock:
    """Many readers or one writer, granted in arrival order.

    Readers that arrive one after another share the lock; a writer waits for
    the readers before it and holds off those after it, so neither side
    starves (a lock that lets a waiting writer always go first starved the
    readers under steady writes).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue = collections.deque()  # waiting requests, in arrival order
        self._readers = 0
        self._writer = False

    def _acquire(self, write: bool) -> None:
        me = object()
        with self._cond:
            self._queue.append(me)
            while self._queue[0] is not me or self._writer or (write and self._readers):
                self._cond.wait()
            self._queue.popleft()
            if write:
                self._writer = True
            else:
                self._readers += 1
                self._cond.notify_all()  # the next in line may be a reader too

    def _release(self, write: bool) -> None:
        with self._cond:
            if write:
                self._writer = False
            else:
                self._readers -= 1
            self._cond.notify_all()

    @contextmanager
    def read(self):
        self._acquire(False)
        try:
            yield
        finally:
            self._release(False)

    @contextmanager
    def write(self):
        self._acquire(True)
        try:
            yield
        finally:
            self._release(True)


def signing_service(environ) -> str:
    """The service of a SigV4 request's credential scope, or ''."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    try:
        scope = auth.split(",")[0].split()[1]  # Credential=key/date/region/service/aws4_request
        return scope.split("/")[3].lower()
    except IndexError:
        return ""


def query_action(environ) -> str:
    """The Action of a form-encoded (query protocol) request; the body is kept."""
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return ""
    try:
        size = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return ""
    body = environ["wsgi.input"].read(size) if size > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]


class Isolated:
    """WSGI middleware: runs each request under the locks its operation needs."""

    def __init__(self, app) -> None:
        self.app = app
        self.dynamodb = ReadWriteLock()
        self.sqs = threading.Lock()
        self.tokens = isolation.TransactionTokens()

    @contextmanager
    def _all(self):
        with self.dynamodb.write(), self.sqs:
            yield

    def guard(self, environ):
        """The lock for this request, or None."""
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        service, _, op = target.partition(".")
        if service.startswith("DynamoDB_"):
            return self.dynamodb.read() if op in isolation.DYNAMODB_READS else self.dynamodb.write()
        if service.startswith("DynamoDBStreams_"):
            return self.dynamodb.write()  # GetShardIterator stores iterators
        if service == "AmazonSQS":
            return self.sqs if op in SQS_WRITES else None
        path = environ.get("PATH_INFO", "")
        if path.startswith("/moto-api/") and environ.get("REQUEST_METHOD") == "POST":
            return self._all()  # reset, seeding, configuration
        signed = signing_service(environ)
        if signed == "cloudformation":
            return self.dynamodb.write()  # stacks create and delete tables
        if signed == "sqs" and query_action(environ) in SQS_WRITES:
            return self.sqs
        return None

    def __call__(self, environ, start_response):
        # werkzeug passes the raw request target as RAW_URI and moto reads it
        # (S3 keys with encoded characters); waitress calls it REQUEST_URI.
        if "RAW_URI" not in environ and "REQUEST_URI" in environ:
            environ["RAW_URI"] = environ["REQUEST_URI"]
        def logged_start_response(status, headers, exc_info=None):
            if status[:1] == "5":
                op = environ.get("HTTP_X_AMZ_TARGET") or environ.get("REQUEST_METHOD", "") + " " + environ.get("PATH_INFO", "")
                log.warning("%s answered %s", op, status)
            return start_response(status, headers, exc_info)

        guard = self.guard(environ)
        if guard is None:
            return self.app(environ, logged_start_response)
        with guard:
            if environ.get("HTTP_X_AMZ_TARGET", "").endswith(".TransactWriteItems"):
                return honour_token(self.tokens, environ, logged_start_response, self._run)
            return self._run(environ, logged_start_response)

    def _run(self, environ, start_response):
        # The whole response is built under the lock: a WSGI iterable may run
        # the operation lazily.
        result = self.app(environ, start_response)
        try:
            return [b"".join(result)]
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()


def honour_token(tokens, environ, start_response, run):
    """Runs a TransactWriteItems request once per ClientRequestToken (see
    tessera_moto_isolation.TransactionTokens): a repeat replays the first
    success, other items under the token answer IdempotentParameterMismatch."""
    try:
        size = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        size = 0
    raw = environ["wsgi.input"].read(size) if size > 0 else b""
    environ["wsgi.input"] = io.BytesIO(raw)
    try:
        token, digest = isolation.transaction_key(json.loads(raw))
    except (ValueError, AttributeError):
        token = None
    if not token:
        return run(environ, start_response)
    now = time.monotonic()
    found, answer = tokens.check(token, digest, now)
    if found == isolation.MISMATCH:
        body = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#" + isolation.MISMATCH_CODE, "message": isolation.MISMATCH_MESSAGE}).encode()
        start_response("400 Bad Request", [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(body)))])
        return [body]
    if found == isolation.REPLAY:
        status, headers, body = answer
        start_response(status, headers)
        return [body]
    sent = {}

    def recording_start_response(status, headers, exc_info=None):
        sent["status"], sent["headers"] = status, list(headers)
        return start_response(status, headers, exc_info)

    out = run(environ, recording_start_response)
    if sent.get("status", "")[:1] == "2":
        tokens.record(token, digest, now, (sent["status"], sent["headers"], b"".join(out)))
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-H", "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("-p", "--port", type=int, default=int(os.environ.get("MOTO_PORT", 5000)), help="port (default $MOTO_PORT or 5000)")
    parser.add_argument("--threads", type=int, default=32, help="request threads (SQS long polls hold one each)")
    args = parser.parse_args(argv)
    # moto builds some URLs (SQS queue URLs, for one) from MOTO_PORT, as moto_server sets it.
    os.environ.setdefault("MOTO_PORT", str(args.port))

    from moto.server import DomainDispatcherApplication, create_backend_app
    from waitress import serve

    def stop(signum, frame):
        os._exit(0)  # all state is in memory: nothing to flush, no thread to wait for

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    isolation.snapshot_rollback()
    isolation.partition_queries()
    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True  # as moto_server does
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    serve(
        Isolated(app),
        host=args.host,
        port=args.port,
        threads=args.threads,
        connection_limit=1000,
        backlog=1024,
        asyncore_use_poll=True,  # no select() limit of 1024 descriptors
        ident="moto",
    )


if __name__ == "__main__":
    main()
