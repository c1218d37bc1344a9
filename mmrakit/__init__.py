"""mmrakit: build, review, export and evaluate MMRA-style multi-image relation benchmarks.

The top-level package is the core (workspace, settings, data model); each stage is a
subpackage (``mmrakit.relations``, ``mmrakit.images``, ``mmrakit.builders``,
``mmrakit.review``, ``mmrakit.exports``, ``mmrakit.evaluation``) and only
``mmrakit.cli`` knows all of them.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mmrakit")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"
