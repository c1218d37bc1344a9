"""Under CI=true a missing Label Studio or browser FAILS the run instead of skipping the real tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

PROBE = '''
from conftest import skip_or_fail

def test_needs_label_studio():
    skip_or_fail("needs the Label Studio server")
'''


@pytest.mark.parametrize("ci, outcome", [("true", "1 failed"), ("", "1 skipped")])
def test_missing_real_component_skips_locally_and_fails_in_ci(tmp_path: Path, ci: str, outcome: str) -> None:
    probe = TESTS / f"_probe_ci_{os.getpid()}_{ci or 'local'}_test.py"
    probe.write_text(PROBE)
    try:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(probe)],
                              capture_output=True, text=True, cwd=TESTS.parent, env=dict(os.environ, CI=ci),
                              timeout=300)
    finally:
        probe.unlink()
    assert outcome in proc.stdout, proc.stdout[-2000:]
