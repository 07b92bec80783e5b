"""Builds LocalStack's service catalog index once, at install time: `python -m tessera_localstack.catalog DIR`.

On its first request LocalStack indexes every botocore service specification (about 3 s of CPU) and
caches the index under its FILESYSTEM_ROOT. Every test package starts its own LocalStack with a fresh
root, so the index is built here, into DIR, and each instance finds it as its static library directory
(<FILESYSTEM_ROOT>/usr/lib/localstack, a link to DIR): LocalStack reads the index from there first.
"""

import os
import sys

from tessera_localstack import compat  # noqa: F401  (before localstack)

from localstack.aws import spec


def main(directory: str) -> int:
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, spec._get_catalog_filename())
    if not os.path.exists(path):
        spec.build_service_index_cache(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
