"""training.callbacks: validation panels reach wandb; stop-signal handling is set and undone.

The full stop-and-resume path is trained in test_resume.py; these check the parts alone.
"""

import signal
from types import SimpleNamespace
from unittest import mock

import numpy as np
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import WandbLogger

from migraseg.training.callbacks import PreemptionCheckpoint, ValidationImagePanels


def example():
    return {
        "image": np.random.rand(8, 8),
        "truth": np.ones((8, 8), int),
        "pred": np.zeros((8, 8), int),
    }


def test_validation_panels_go_to_wandb_but_not_during_the_sanity_check():
    logger = mock.Mock(spec=WandbLogger)
    module = SimpleNamespace(val_examples=[example(), example()])
    trainer = SimpleNamespace(
        sanity_checking=True, is_global_zero=True, loggers=[logger], global_step=7
    )
    ValidationImagePanels().on_validation_epoch_end(trainer, module)
    logger.log_image.assert_not_called()
    trainer.sanity_checking = False
    ValidationImagePanels().on_validation_epoch_end(trainer, module)
    kwargs = logger.log_image.call_args.kwargs
    assert kwargs["key"] == "val/examples" and kwargs["step"] == 7
    assert [p.shape for p in kwargs["images"]] == [(8, 3 * 8 + 8, 3)] * 2


def test_deferred_signal_is_held_then_the_original_handler_restored():
    original = signal.getsignal(signal.SIGUSR2)
    callback = PreemptionCheckpoint(defer_signals=["SIGUSR2"])
    callback.on_train_start(SimpleNamespace(), None)
    try:
        signal.raise_signal(signal.SIGUSR2)  # held, not acted on
        assert callback.received == [signal.SIGUSR2]
    finally:
        callback.teardown(SimpleNamespace(), None, "fit")
    assert signal.getsignal(signal.SIGUSR2) == original


def test_checkpoint_path_follows_the_model_checkpoint_folder(tmp_path):
    callback = PreemptionCheckpoint()
    trainer = SimpleNamespace(
        callbacks=[ModelCheckpoint(dirpath=tmp_path / "ckpts")], default_root_dir=tmp_path
    )
    assert callback.checkpoint_path(trainer) == tmp_path / "ckpts" / "last.ckpt"
    trainer.callbacks = []
    assert callback.checkpoint_path(trainer) == tmp_path / "checkpoints" / "last.ckpt"
