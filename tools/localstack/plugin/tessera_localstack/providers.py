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
every write operation holds it exclusively, reads share it (and so never see half a write). A
cancelled transaction puts back only the items it names, and TransactWriteItems honours its
ClientRequestToken. The read set, that rollback and the token cache are moto_isolation.py, a link to
tools/moto/tessera_moto_isolation.py, which the moto engine (tools/moto/serve.py) uses too.

DynamoDB Streams (ListStreams, DescribeStream, GetShardIterator, GetRecords) is moto's too:
LocalStack's own dynamodbstreams provider reads the streams of its own DynamoDB (through Kinesis),
which never sees moto's tables. moto's streams backend reads the stream records that moto's DynamoDB
keeps on each table; its operations share the DynamoDB lock as readers (they change no table, and
never see half a write). GetRecords answers arrived with binary attributes encoded twice; they are
given back DynamoDB's single encoding (_single_encoded_binaries).

Cognito's tokens get the iat claim that moto-ext 5.1.29 leaves out (Cognito and moto 5.2 set it),
and moto's JWKS is served where moto's own server serves it, <endpoint>/<poolId>/.well-known/jwks.json.
"""

import base64
import json
import time

from localstack.aws.api import CommonServiceException, RequestContext, ServiceRequest
from localstack.aws.spec import load_service
from localstack.http import Request, Response
from localstack.services.moto import dispatch_to_moto
from localstack.services.plugins import Service, ServiceLifecycleHook, aws_provider
from localstack.runtime import hooks
from readerwriterlock import rwlock

from tessera_localstack import moto_isolation as isolation

class MotoProvider(ServiceLifecycleHook):
    """A provider with no logic of its own: the dispatch table sends everything to moto."""

    def __init__(self, service: str):
        self.service = service


# The lock of moto's DynamoDB data, which the dynamodb and dynamodbstreams providers share.
_DYNAMODB_LOCK = rwlock.RWLockWrite()


def moto_dispatch_table(service: str, exclusive=frozenset(), shared=frozenset(), wrap=None, lock=None) -> dict:
    """Maps every operation of service to moto; exclusive and shared name the operations that hold
    a readers-writer lock (lock if given, else one of their own) as a writer or as a reader. wrap, if
    given, maps an operation name to a function (request, dispatch) -> Response that runs inside the
    lock instead of dispatch."""
    lock = lock or rwlock.RWLockWrite()
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


def _honour_tokens():
    """TransactWriteItems' ClientRequestToken, which moto ignores: a repeat of one that succeeded
    answers its response again without writing, other items under the token answer
    IdempotentParameterMismatchException (moto_isolation.TransactionTokens, shared with
    tools/moto/serve.py). Runs under the DynamoDB write lock."""
    tokens = isolation.TransactionTokens()

    def once(request: ServiceRequest, dispatch) -> Response:
        token, digest = isolation.transaction_key(request)
        if not token:
            return dispatch()
        now = time.monotonic()
        found, answer = tokens.check(token, digest, now)
        if found == isolation.MISMATCH:
            raise CommonServiceException(isolation.MISMATCH_CODE, isolation.MISMATCH_MESSAGE)
        if found == isolation.REPLAY:
            return Response(*answer)
        response = dispatch()
        if 200 <= response.status_code < 300:
            tokens.record(token, digest, now, (response.get_data(), response.status_code, list(response.headers.items())))
        return response

    return once


@aws_provider(api="dynamodb", name="moto")
def dynamodb_moto():
    isolation.snapshot_rollback()
    isolation.partition_queries()
    ops = set(load_service("dynamodb").operation_names)
    return Service.for_provider(
        MotoProvider("dynamodb"),
        dispatch_table_factory=lambda _p: moto_dispatch_table(
            "dynamodb",
            exclusive=ops - isolation.DYNAMODB_READS,
            shared=ops & isolation.DYNAMODB_READS,
            wrap={"TransactWriteItems": _honour_tokens()},
            lock=_DYNAMODB_LOCK,
        ),
    )


def _binary_once(value):
    """A B value of a stream image as LocalStack hands it on: base64 of the base64 text that moto
    wrote (TestLocalStackServesDynamoDBStreams). Returns the base64 text moto wrote."""
    try:
        inner = base64.b64decode(value, validate=True).decode("ascii")
        base64.b64decode(inner, validate=True)
    except (ValueError, UnicodeDecodeError):
        return value
    return inner


def _fix_binaries(av):
    """Strips the second base64 encoding of every B and BS value in one attribute value."""
    if not isinstance(av, dict):
        return
    if "B" in av:
        av["B"] = _binary_once(av["B"])
    if "BS" in av:
        av["BS"] = [_binary_once(v) for v in av["BS"]]
    for v in av.get("M", {}).values():
        _fix_binaries(v)
    for v in av.get("L", []):
        _fix_binaries(v)


def _single_encoded_binaries(request: ServiceRequest, dispatch) -> Response:
    """GetRecords as DynamoDB Streams answers it: LocalStack's response path base64-encodes the
    binary attributes of moto's stream images a second time (moto's own server does not), so a
    sealed field read from the stream would not open. Each B and BS value of the records' keys and
    images gets back the one encoding DynamoDB gives it."""
    response = dispatch()
    if response.status_code != 200:
        return response
    body = json.loads(response.get_data())
    for record in body.get("Records", []):
        images = record.get("dynamodb", {})
        for part in ("Keys", "NewImage", "OldImage"):
            for av in images.get(part, {}).values():
                _fix_binaries(av)
    data = json.dumps(body).encode()
    response.set_data(data)
    response.headers["Content-Length"] = str(len(data))
    return response


@aws_provider(api="dynamodbstreams", name="moto")
def dynamodbstreams_moto():
    """moto's DynamoDB Streams, over the tables of the dynamodb:moto provider (select both)."""
    # ListStreams, DescribeStream, GetShardIterator, GetRecords: they read tables and their stream
    # records, and add shard iterators to moto's streams backend (a dict of fresh random keys, which
    # readers can share); any operation a later model adds takes the same side.
    ops = set(load_service("dynamodbstreams").operation_names)
    return Service.for_provider(
        MotoProvider("dynamodbstreams"),
        dispatch_table_factory=lambda _p: moto_dispatch_table(
            "dynamodbstreams", shared=ops, lock=_DYNAMODB_LOCK, wrap={"GetRecords": _single_encoded_binaries}
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
