"""freeze_loaded runs in a child interpreter: freezing is for whole processes, never a test process's objects."""

from __future__ import annotations

import subprocess
import sys

CHILD = """
import gc
from runtime.gc_tuning import freeze_loaded
kept = [[i] for i in range(10_000)]
frozen = freeze_loaded()
assert frozen >= len(kept), frozen
assert gc.get_freeze_count() == frozen
print("ok", frozen)
"""


def test_freeze_loaded_moves_what_is_alive_out_of_the_collectors_generations() -> None:
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok ")


def test_batch_thresholds_set_and_give_back_the_previous_ones() -> None:
    child = (
        "import gc\n"
        "from runtime.gc_tuning import BATCH_THRESHOLDS, batch_thresholds\n"
        "before = gc.get_threshold()\n"
        "assert batch_thresholds() == before\n"
        "assert gc.get_threshold() == BATCH_THRESHOLDS\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
