import subprocess
import sys
import textwrap

import pytest


@pytest.fixture
def run_python():
    """Runs a Python snippet in a fresh interpreter with a timeout, so a deadlock or a crash in
    native code reads as a test failure instead of hanging or killing the test run."""

    def run(code: str, timeout: float = 120.0) -> str:
        proc = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout

    return run
