"""Per-stage TensorBoard event files, when run.report_to = ["tensorboard"] (the convention of Hugging Face's
TrainingArguments.report_to): training loss, learning rate and tokens/s per optimizer step, the English dev
score at each evaluation, an intermediate stage's dev metrics at its end. They are written under
RUN_DIR/tensorboard/<phase>/<name>-<key>/, outside the stage's outputs, so they change no checksum:
`tensorboard --logdir RUN_DIR/tensorboard` watches a running grid. The `tensorboard` package is optional;
without it a stage says so once and trains as usual."""
from __future__ import annotations

from pathlib import Path

_warned = set()


def report_dir(report_to: list[str], ctx) -> Path | None:
    """Where a stage's event files go, or None when run.report_to does not ask for TensorBoard."""
    if "tensorboard" not in report_to:
        return None
    return Path(ctx.run_dir) / "tensorboard" / ctx.stage.phase / f"{ctx.stage.name}-{ctx.stage.key}"


class Reporter:
    """scalar(name, value, step) into one stage's event files; does nothing without a folder or package."""

    def __init__(self, folder: Path | None, log=print):
        self.writer = None
        if folder is None:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # torch's writer needs the tensorboard package
            if "tensorboard" not in _warned:
                _warned.add("tensorboard")
                log('       run.report_to = ["tensorboard"], but the tensorboard package is not installed '
                    "(pip install tensorboard); no event files are written")
            return
        self.writer = SummaryWriter(log_dir=str(folder))

    def scalar(self, name: str, value: float, step: int) -> None:
        if self.writer is not None:
            self.writer.add_scalar(name, float(value), step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
