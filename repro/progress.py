"""Progress bars (tqdm) for training and prediction: steps, loss, tokens/s and ETA on a terminal; silent
when stderr is not one (CI logs and redirected runs keep only the stage log lines)."""
from __future__ import annotations

import os
import sys

from tqdm.auto import tqdm
from transformers.utils import logging as hf_logging


def enabled() -> bool:
    if os.environ.get("REPRO_PROGRESS") in ("0", "1"):  # force either way (tests, notebooks)
        return os.environ["REPRO_PROGRESS"] == "1"
    return sys.stderr.isatty()


def bar(total: int, desc: str, initial: int = 0, unit: str = "step", quiet: bool = False):
    return tqdm(total=total, initial=initial, desc=desc, unit=unit, disable=quiet or not enabled(),
                dynamic_ncols=True, leave=False)


def quiet_libraries() -> None:
    """transformers' own bars (weights loading, shard writing) go with ours: off unless ours are on. Set
    through the API, since the environment variables are read when transformers is first imported."""
    if not enabled():
        hf_logging.disable_progress_bar()
