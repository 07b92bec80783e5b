"""Lets localstack-core 2026.3.0 run on Python 3.12: it declares 3.10 or newer but imports
warnings.deprecated, which Python 3.13 added; on 3.12 that is typing_extensions.deprecated (the same
decorator, PEP 702). Nothing else in the runtime needs 3.13. Import this before localstack."""

import warnings

if not hasattr(warnings, "deprecated"):
    from typing_extensions import deprecated

    warnings.deprecated = deprecated
