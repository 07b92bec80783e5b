"""What both local engines need to make moto's DynamoDB behave like DynamoDB under concurrency.

One file, two users:
- tools/moto/serve.py (moto 5.2.1 on waitress, the moto engine) imports it from its own directory;
- the LocalStack plugin (LocalStack's moto-ext) has it as tessera_localstack/moto_isolation.py, a
  symbolic link to this file that `make tools` installs as a copy (the Makefile copies the plugin
  with cp -RL before pip builds it).

Each engine keeps only its adapter: its readers-writer lock, and how a request's operation,
ClientRequestToken and items are read and a response is kept or made. Here, independent of either:
- DYNAMODB_READS: the operations that may run together (every other one runs alone);
- TransactionTokens: the ClientRequestToken cache of TransactWriteItems (replay, mismatch, miss);
- snapshot_rollback: TransactWriteItems snapshots the items it names, not whole tables;
- partition_queries: a Query of a table's partition reads that partition, not the whole table.
"""

import copy
import hashlib
import json
import threading

# DynamoDB operations that only read table data or metadata. Every other operation (item writes,
# batches, transactions, PartiQL, table and TTL changes, tags, backups, imports, and any operation
# moto adds later) takes the write side of the lock: an operation missing here errs on the safe side.
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

# The error DynamoDB answers for a used ClientRequestToken with other items.
MISMATCH_CODE = "IdempotentParameterMismatchException"
MISMATCH_MESSAGE = "Parameters of the request do not match those of the request with this ClientRequestToken"

# What TransactionTokens.check finds.
MISS = "miss"  # run the transaction; record it if it succeeds
REPLAY = "replay"  # answer what the first success answered, writing nothing
MISMATCH = "mismatch"  # answer MISMATCH_CODE, writing nothing


def transaction_key(request):
    """The ClientRequestToken of a TransactWriteItems request (a mapping, as JSON or as the engine
    parsed it) and the digest of its TransactItems; (None, None) without a token."""
    token = request.get("ClientRequestToken")
    if not token:
        return None, None
    items = json.dumps(request.get("TransactItems"), sort_keys=True, default=repr)  # repr: binary values
    return token, hashlib.sha256(items.encode()).hexdigest()


class TransactionTokens:
    """TransactWriteItems' ClientRequestToken, which moto ignores.

    In DynamoDB a TransactWriteItems carrying the token of one that succeeded in the last 10 minutes
    succeeds again without writing, and the same token with other items is an
    IdempotentParameterMismatchException. The SDK puts one token on every attempt of a call, so a
    retry after a lost response (the Go SDK retries a connection its own transport closed under a
    response, "use of closed network connection") is not run twice: on plain moto the second run
    failed its conditions and a write that had happened answered 409.

    The cache only decides; the engine's adapter runs the transaction and keeps its answer (an
    opaque value: status, headers and body in the engine's own types). Callers hold the DynamoDB
    write lock.
    """

    TTL = 600.0
    LIMIT = 10000  # entries kept before the expired ones are dropped

    def __init__(self) -> None:
        self._done = {}  # token -> (expires, digest of the items, answer)

    def check(self, token, digest, now):
        """(MISS, None), (REPLAY, the recorded answer) or (MISMATCH, None), at monotonic time now."""
        done = self._done.get(token)
        if done is None or done[0] <= now:
            return MISS, None
        _, was, answer = done
        return (REPLAY, answer) if was == digest else (MISMATCH, None)

    def record(self, token, digest, now, answer) -> None:
        """Keeps the answer of a transaction that succeeded under token, for TTL seconds from now."""
        if len(self._done) > self.LIMIT:
            self._done = {k: v for k, v in self._done.items() if v[0] > now}
        self._done[token] = (now + self.TTL, digest, answer)


def snapshot_rollback() -> None:
    """Make moto's TransactWriteItems snapshot the items it names instead of whole tables.

    moto (5.2.1, and moto-ext 5.1.29 in LocalStack) deep-copies every table a transaction names,
    before the transaction, so that it can put the copy back if the transaction is cancelled: a cost
    that grows with the table (about 140 ms per transaction at 2,000 items), paid by every
    transaction, cancelled or not, and under the write lock by every writer behind it. Both engines
    run writes one at a time, so the transaction can only have changed the items it names: this keeps
    a copy of those (or notes their absence) and puts them back when moto raises, and moto's own
    whole-table copy becomes the table itself. The stream records the cancelled transaction wrote are
    taken back too (the change feed reads the streams: a rolled-back write must not reach a tenant's
    change log). Patching twice patches once.
    """
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
        streamed = {}  # id(table) -> (table, its stream's length before)
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
            if getattr(table, "stream_shard", None) is not None:
                streamed.setdefault(id(table), (table, len(table.stream_shard.items)))
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
            for table, length in streamed.values():  # nor does the stream keep their records
                del table.stream_shard.items[length:]
            raise

    transact_write_items.tessera_snapshot = True
    models.DynamoDBBackend.transact_write_items = transact_write_items


def partition_queries() -> None:
    """Make moto's Query of a table (not of an index) read only the partition it names.

    moto (5.2.1, and moto-ext 5.1.29) answers a Query by walking every item of the table and keeping
    those of the partition key: a cost that grows with the table, not with the partition. DynamoDB
    reads the partition alone, so on moto the time of anything that queries one tenant's partitions
    of the pooled table (a restore, an export, a list) grew with the number of other tenants in the
    pool. This hands the query the partition's items (moto keeps a table's items by partition key),
    through a per-thread hint, since reads run side by side; everything else about the query (key
    conditions, sorting, paging, filters) is moto's own. Patching twice patches once.
    """
    from moto.dynamodb.models.table import Table

    if getattr(Table.query, "tessera_partition", False):
        return
    hint = threading.local()
    all_items, query = Table.all_items, Table.query

    def partition_items(self):
        if getattr(hint, "table", None) is self:
            part = self.items.get(hint.key)
            if part is None:
                return []
            return list(part.values()) if self.range_key_attr else [part]
        return all_items(self)

    def partition_query(self, hash_key, *args, **kwargs):
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name or hash_key is None:
            return query(self, hash_key, *args, **kwargs)
        hint.table, hint.key = self, hash_key
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            hint.table = hint.key = None

    partition_query.tessera_partition = True
    Table.all_items = partition_items
    Table.query = partition_query
