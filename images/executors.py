"""Ray, when asked for (`--executor ray`): a local Ray runtime unless RAY_ADDRESS names a cluster.

Note: Ray's own gRPC servers listen on all interfaces even when the node IP is loopback; run
it on a trusted network (see docs/images.md).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from mmrakit.errors import ConfigError


@contextlib.contextmanager
def ray_session(num_cpus: int | None = None) -> Iterator[object]:
    try:
        import ray
    except ImportError:
        raise ConfigError("--executor ray needs the `ray` extra", hint="pip install 'mmrakit[ray]'") from None
    started = False
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        kwargs = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(num_cpus=num_cpus or os.cpu_count(), _node_ip_address="127.0.0.1", **kwargs)
        started = True
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()
