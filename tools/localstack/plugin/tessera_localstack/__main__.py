"""Starts LocalStack's runtime (localstack.runtime.main) as `python -m tessera_localstack`, with two
fixes for running it on a host:

- On Python 3.12 it needs warnings.deprecated (see compat.py).
- Its default server (twisted, which costs about half the CPU per request of hypercorn here) binds
  every interface whatever host GATEWAY_LISTEN names ("TODO: interface = host?" in
  localstack/runtime/server/twisted.py). The listener gets the host of GATEWAY_LISTEN.
"""

import runpy
import sys
import types

from tessera_localstack import compat  # noqa: F401  (before localstack)


def _bind_twisted_to_gateway_host():
    from localstack import config

    if config.GATEWAY_SERVER != "twisted":
        return
    from localstack.runtime.server import twisted as served

    hosts = {h.port: h.host for h in config.GATEWAY_LISTEN}
    tcp4 = served.endpoints.TCP4ServerEndpoint

    class OnGatewayHost(tcp4):
        # And a deeper backlog: with twisted's 50, clients that connect at once wait for SYN retries.
        def __init__(self, reactor, port, backlog=50, interface=""):
            super().__init__(reactor, port, max(backlog, 1024), interface or hosts.get(port, ""))

    endpoints = types.ModuleType(served.endpoints.__name__)
    endpoints.__dict__.update(vars(served.endpoints))
    endpoints.TCP4ServerEndpoint = OnGatewayHost
    served.endpoints = endpoints


_bind_twisted_to_gateway_host()
sys.argv[0] = "localstack.runtime.main"
runpy.run_module("localstack.runtime.main", run_name="__main__", alter_sys=True)
