"""LocalStack providers that hand every operation of a service to moto's backend.

LocalStack core ships moto (as moto-ext) and already serves a few services through it
(localstack.services.moto.call_moto, MotoFallbackDispatcher). Its own DynamoDB runs DynamoDB Local,
which this project does not use (not open source), and Cognito is a paid feature. These providers
give both services moto's implementation inside LocalStack's gateway: the request LocalStack has
parsed is dispatched to moto unchanged and moto's HTTP response goes back as is (no re-serialization),
so a client sees what it would see from moto's own server, under LocalStack's account, region and
gateway.

DynamoDB writes are isolated: moto's DynamoDB is not safe under concurrent requests (two conditional
puts of one new item can both succeed; a transaction's rollback copy races other writers). DynamoDB
applies each single-item write and each transaction atomically, so a readers-writer lock models it:
every write operation holds it exclusively, reads share it (and so never see half a write).

Cognito's tokens get the iat claim that moto-ext 5.1.29 leaves out (Cognito and moto 5.2 set it),
and moto's JWKS is served where moto's own server serves it, <endpoint>/<poolId>/.well-known/jwks.json.
"""

import hashlib
import json
import time

from localstack.aws.api import CommonServiceException, RequestContext, ServiceRequest
from localstack.aws.spec import load_service
from localstack.http import Request, Response
from localstack.services.moto import dispatch_to_moto
from localstack.services.plugins import Service, ServiceLifecycleHook, aws_provider
from localstack.runtime import hooks
from readerwriterlock import rwlock

# DynamoDB operations that only read table data or metadata; every other operation (item writes,
# batches, transactions, PartiQL, table and TTL changes, tags, backups, imports) takes the lock
# exclusively. An operation missing here errs on the safe side.
DYNAMODB_READS = frozenset(
    {
        "BatchGetItem",
        "DescribeBackup",
        "DescribeContinuousBackups",
        "DescribeContributorInsights",
        "DescribeEndpoints",
        "DescribeExport",
        "DescribeGlobalTable",
        "DescribeGlobalTableSettings",
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


class MotoProvider(ServiceLifecycleHook):
    """A provider with no logic of its own: the dispatch table sends everything to moto."""

    def __init__(self, service: str):
        self.service = service


def moto_dispatch_table(service: str, exclusive=frozenset(), shared=frozenset(), wrap=None) -> dict:
    """Maps every operation of service to moto; exclusive and shared name the operations that hold
    one readers-writer lock as a writer or as a reader. wrap, if given, maps an operation name to a
    function (request, dispatch) -> Response that runs inside the lock instead of dispatch."""
    lock = rwlock.RWLockWrite()
    wrap = wrap or {}

    def handler(op: str, mode: str):
        around = wrap.get(op)

        def call(context: RequestContext, request: ServiceRequest) -> Response:
            def dispatch():
                return dispatch_to_moto(context)

            if mode == "plain":
                return around(request, dispatch) if around else dispatch()
            with lock.gen_wlock() if mode == "write" else lock.gen_rlock():
                return around(request, dispatch) if around else dispatch()

        return call

    table = {}
    for op in load_service(service).operation_names:
        mode = "write" if op in exclusive else "read" if op in shared else "plain"
        table[op] = handler(op, mode)
    return table


class TransactionTokens:
    """TransactWriteItems' ClientRequestToken, which moto ignores (as tools/moto/serve.py does for
    the moto engine). In DynamoDB a TransactWriteItems carrying the token of one that succeeded in
    the last 10 minutes succeeds again without writing, and the same token with other items is an
    IdempotentParameterMismatchException. The SDK puts one token on every attempt of a call, so a
    retry after a lost response does not write twice. Runs under the DynamoDB write lock."""

    TTL = 600.0

    def __init__(self) -> None:
        self._done = {}  # token -> (expires, digest of the items, status, headers, body)

    def __call__(self, request: ServiceRequest, dispatch) -> Response:
        token = request.get("ClientRequestToken")
        if not token:
            return dispatch()
        digest = hashlib.sha256(json.dumps(request.get("TransactItems"), sort_keys=True, default=repr).encode()).hexdigest()
        now = time.monotonic()
        done = self._done.get(token)
        if done is not None and done[0] > now:
            _, was, status, headers, body = done
            if was != digest:
                raise CommonServiceException(
                    "IdempotentParameterMismatchException",
                    "Parameters of the request do not match those of the request with this ClientRequestToken",
                )
            return Response(body, status, headers)
        response = dispatch()
        if 200 <= response.status_code < 300:
            if len(self._done) > 10000:
                self._done = {k: v for k, v in self._done.items() if v[0] > now}
            self._done[token] = (now + self.TTL, digest, response.status_code, list(response.headers.items()), response.get_data())
        return response


def _snapshot_rollback():
    """Make moto's TransactWriteItems snapshot the items it names instead of whole tables (as
    tools/moto/serve.py does for the moto engine). moto deep-copies every table a transaction names,
    before the transaction, to put the copy back if it is cancelled: a cost that grows with the table,
    paid by every transaction under the write lock. Writes run one at a time here, so a transaction can
    only have changed the items it names: keep a copy of those (or note their absence), put them back
    when moto raises, and let moto's whole-table "copy" be the table itself."""
    import copy

    import moto.dynamodb.models as models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    if getattr(models.DynamoDBBackend.transact_write_items, "tessera_snapshot", False):
        return

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
                ((_, op),) = entry.items()
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

    transact_write_items.tessera_snapshot = True
    models.DynamoDBBackend.transact_write_items = transact_write_items


@aws_provider(api="dynamodb", name="moto")
def dynamodb_moto():
    _snapshot_rollback()
    ops = set(load_service("dynamodb").operation_names)
    return Service.for_provider(
        MotoProvider("dynamodb"),
        dispatch_table_factory=lambda _p: moto_dispatch_table(
            "dynamodb",
            exclusive=ops - DYNAMODB_READS,
            shared=ops & DYNAMODB_READS,
            wrap={"TransactWriteItems": TransactionTokens()},
        ),
    )


def _issue_iat():
    """moto-ext 5.1.29 leaves iat out of the tokens it issues; Cognito (and moto 5.2) set it to the
    time of issue, and a verifier may require it."""
    from moto.cognitoidp.models import CognitoIdpUserPool

    create_jwt = CognitoIdpUserPool.create_jwt
    if getattr(create_jwt, "tessera_iat", False):
        return

    def with_iat(self, client_id, username, token_use, expires_in=60 * 60, extra_data=None):
        return create_jwt(
            self, client_id, username, token_use, expires_in, {"iat": int(time.time()), **(extra_data or {})}
        )

    with_iat.tessera_iat = True
    CognitoIdpUserPool.create_jwt = with_iat


@aws_provider(api="cognito-idp", name="moto")
def cognito_idp_moto():
    _issue_iat()
    return Service.for_provider(
        MotoProvider("cognito-idp"),
        dispatch_table_factory=lambda _p: moto_dispatch_table("cognito-idp"),
    )


# A user pool id: <region>_<id>, e.g. us-east-1_AbC123.
_POOL_ID = r"[a-z]{2}(?:-[a-z]+)+-\d_[0-9A-Za-z]+"


def _serve_jwks(request: Request, pool_id: str) -> Response:
    # moto signs every pool's tokens with one static key and serves it for any pool id.
    from moto.cognitoidp.responses import CognitoIdpJsonWebKeyResponse

    status, headers, body = CognitoIdpJsonWebKeyResponse.serve_json_web_key()
    return Response(body, status, headers)


@hooks.on_infra_start()
def register_cognito_jwks_route():
    """Serves moto's JWKS at <endpoint>/<poolId>/.well-known/jwks.json, where moto's own server
    serves it (LocalStack would otherwise take the path for an S3 object)."""
    from localstack.services.edge import ROUTER

    ROUTER.add(
        path=f"/<regex('{_POOL_ID}'):pool_id>/.well-known/jwks.json",
        endpoint=_serve_jwks,
        methods=["GET"],
    )
