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
whole-table copy is replaced by a copy of those (see snapshot_rollback).

SQS's DeleteMessage rebuilds a queue's message list without a lock, so a
message sent meanwhile can be lost: sends, deletes, visibility changes and
purges take one SQS lock. ReceiveMessage does not (a long poll waits inside
moto and would hold off the sends it waits for); a receive racing a delete can
at worst return the message being deleted, which SQS's at-least-once delivery
allows anyway.

TransactWriteItems honours its ClientRequestToken, as DynamoDB does (see
TransactionTokens). Responses with a 5xx status are logged, with the operation.

Usage (the same -H/-p contract as moto_server):
    .venv/bin/python tools/moto/serve.py -H 127.0.0.1 -p 5000
"""

import argparse
import collections
import hashlib
import io
import json
import logging
import os
import signal
import threading
import time
from contextlib import contextmanager
from urllib.parse import parse_qs

log = logging.getLogger("moto.serve")

# DynamoDB operations that only read. Every other DynamoDB operation (and any
# operation moto adds later) takes the write side of the lock.
DYNAMODB_READS = frozenset(
    {
        "BatchGetItem",
        "DescribeBackup",
        "DescribeContinuousBackups",
        "DescribeContributorInsights",
        "DescribeEndpoints",
        "DescribeExport",
        "DescribeGlobalTable",
        "DescribeImport",
        "DescribeKinesisStreamingDestination",
        "DescribeLimits",
        "DescribeTable",
        "DescribeTableReplicaAutoScaling",
        "DescribeTimeToLive",
        "GetItem",
        "GetResourcePolicy",
        "ListBackups",
        "ListContributorInsights",
        "ListExports",
        "ListGlobalTables",
        "ListImports",
        "ListTables",
        "ListTagsOfResource",
        "Query",
        "Scan",
        "TransactGetItems",
    }
)

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
        self.tokens = TransactionTokens()

    @contextmanager
    def _all(self):
        with self.dynamodb.write(), self.sqs:
            yield

    def guard(self, environ):
        """The lock for this request, or None."""
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        service, _, op = target.partition(".")
        if service.startswith("DynamoDB_"):
            return self.dynamodb.read() if op in DYNAMODB_READS else self.dynamodb.write()
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
                return self.tokens.run(environ, logged_start_response, self._run)
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


class TransactionTokens:
    """TransactWriteItems' ClientRequestToken, which moto ignores.

    In DynamoDB a TransactWriteItems carrying the token of one that succeeded
    in the last 10 minutes succeeds again without writing, and the same token
    with other items is an IdempotentParameterMismatchException. The SDK puts
    one token on every attempt of a call, so a retry after a lost response
    (the Go SDK retries a connection its own transport closed under a
    response, "use of closed network connection") is not run twice: on moto
    the second run failed its conditions and a write that had happened
    answered 409. Callers hold the DynamoDB write lock.
    """

    TTL = 600.0

    def __init__(self) -> None:
        self._done = {}  # token -> (expires, digest of the items, status, headers, body)

    def run(self, environ, start_response, run):
        try:
            size = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            size = 0
        raw = environ["wsgi.input"].read(size) if size > 0 else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        try:
            request = json.loads(raw)
            token = request.get("ClientRequestToken")
            digest = hashlib.sha256(json.dumps(request.get("TransactItems"), sort_keys=True).encode()).hexdigest()
        except (ValueError, AttributeError):
            token = None
        if not token:
            return run(environ, start_response)
        now = time.monotonic()
        done = self._done.get(token)
        if done is not None and done[0] > now:
            _, was, status, headers, body = done
            if was != digest:
                body = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
                                   "message": "Parameters of the request do not match those of the request with this ClientRequestToken"}).encode()
                start_response("400 Bad Request", [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(body)))])
                return [body]
            start_response(status, headers)
            return [body]
        answer = {}

        def recording_start_response(status, headers, exc_info=None):
            answer["status"], answer["headers"] = status, list(headers)
            return start_response(status, headers, exc_info)

        out = run(environ, recording_start_response)
        if answer.get("status", "")[:1] == "2":
            if len(self._done) > 10000:
                self._done = {k: v for k, v in self._done.items() if v[0] > now}
            self._done[token] = (now + self.TTL, digest, answer["status"], answer["headers"], b"".join(out))
        return out


def snapshot_rollback() -> None:
    """Make TransactWriteItems snapshot the items it names instead of whole tables.

    moto 5.2.1 deep-copies every table a transaction names, before the
    transaction, so that it can put the copy back if the transaction is
    cancelled: a cost that grows with the table (about 140 ms per transaction
    at 2,000 items here), paid by every transaction, cancelled or not, and
    under the write lock by every writer behind it. Writes run one at a time
    here, so the transaction can only have changed the items it names: this
    keeps a copy of those (or notes their absence) and puts them back when
    moto raises, and moto's own whole-table copy becomes the table itself.
    Stream records of a cancelled transaction are not taken back (nothing
    here reads streams).
    """
    import copy

    import moto.dynamodb.models as models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    class NoTableCopy:
        """The copy module, as transact_write_items sees it."""

        def __getattr__(self, name):
            return getattr(copy, name)

        @staticmethod
        def deepcopy(x, memo=None):
            return x if isinstance(x, Table) else copy.deepcopy(x, memo)

    models.copy = NoTableCopy()
    transact = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        saved = []
        for entry in transact_items if isinstance(transact_items, list) else []:
            try:
                (_, op), = entry.items()
                table = self.get_table(op["TableName"])
                attrs = op["Item"] if "Item" in op else op["Key"]
                h = DynamoType(attrs[table.hash_key_attr])
                r = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
            except Exception:
                continue  # malformed: moto rejects it before writing anything
            saved.append((table, h, r, copy.deepcopy(table.get_item(h, r))))
        try:
            return transact(self, transact_items)
        except BaseException:
            for table, h, r, item in reversed(saved):  # the first snapshot of a key wins
                if r is None:
                    if item is None:
                        table.items.pop(h, None)
                    else:
                        table.items[h] = item
                elif item is None:
                    table.items[h].pop(r, None)
                else:
                    table.items[h][r] = item
            raise

    models.DynamoDBBackend.transact_write_items = transact_write_items


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

    snapshot_rollback()
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
