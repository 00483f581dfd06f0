"""A quiet start: TensorFlow's C++ start-up lines never reach a user's terminal (issue 16)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.campaign_helpers import TINY, TINY_MDN, pool_csv

NOISE = ("cuInit", "CUDA error", "absl::InitializeLog", "cudart_stub", "oneDNN custom operations")


@pytest.mark.slow
def test_small_campaign_prints_no_tensorflow_startup_noise(tmp_path: Path) -> None:
    pool = pool_csv(tmp_path, n=60)
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    res = subprocess.run(
        [sys.executable, "-m", "discovery_loop.cli", "run", "--data", str(pool), "--target", "y", "--feature-columns", "a,b,c",
         "--id-column", "name", "--maximize", "--budget", "30", "--batch-size", "10", "--seed", "0", "--model", "mc_dropout",
         "--model-params", json.dumps(TINY), "--mdn-params", json.dumps(TINY_MDN), "--ledger", str(tmp_path / "l.sqlite"),
         "--no-progress"],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    noisy = [line for line in res.stderr.splitlines() if any(n in line for n in NOISE)]
    assert not noisy, "TensorFlow start-up lines reached stderr:\n" + "\n".join(noisy)
    assert "campaign finished" in res.stdout


def test_user_log_level_is_respected() -> None:
    """The import point sets TF_CPP_MIN_LOG_LEVEL only when the user has not."""
    code = "import os; import bdl.models._tf as t; print(os.environ['TF_CPP_MIN_LOG_LEVEL'], t._USER_LOG_LEVEL)"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert out.stdout.split() == ["1", "True"], out.stderr


def test_startup_filter_keeps_real_messages() -> None:
    from bdl.models._tf import _STARTUP_NOISE

    assert _STARTUP_NOISE.search("E0000 00:00:1.2 123 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error")
    assert _STARTUP_NOISE.search("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR")
    assert not _STARTUP_NOISE.search("Traceback (most recent call last):")
    assert not _STARTUP_NOISE.search("E0000 00:00:1.2 123 some_kernel.cc:1] real failure: out of memory")


def test_with_a_gpu_one_line_names_the_device(monkeypatch: pytest.MonkeyPatch) -> None:
    """No GPU here: the device line is checked on a stand-in device (the machine's own: none)."""
    from types import SimpleNamespace

    import bdl.models._tf as t

    if not t._GPUS:
        assert t._device_line() is None
    monkeypatch.setattr(t, "_GPUS", [SimpleNamespace(name="/physical_device:GPU:0")] * 2)
    line = t._device_line()
    assert line is not None and line.startswith("bdl: TensorFlow uses GPU:0 (of 2 GPUs)") and "\n" not in line
