"""Test and benchmark fixtures: NOT part of the product (not in the wheel, never imported by mmrakit).

- ``fake_openai``: a scripted OpenAI-compatible server (stands in for a remote model API only).
- ``review_sample``: hand-made candidates on generated images, and annotation results shaped like
  the labelling form's (pull parsing is also tested on a capture of the real form, ``tests/data/``).
- ``synthetic``: a synthetic relation graph and image pool with the shape the builders need.

Tests import them as ``support.<module>`` (``tests/`` is on the path); benchmarks, run from the
repository root, as ``tests.support.<module>``.
"""
