"""Running a transformers `Trainer`: what every segscope training (fine-tuning, the aspect tagger,
domain adaptation) does around `trainer.train()`."""
from __future__ import annotations

import gc


def run_trainer(trainer):
    """`trainer.train()`, with the objects alive now kept out of the cyclic garbage collector while
    it runs. Trainer.train starts with accelerate's free_memory(), a full gc.collect() that walks
    every object of torch, transformers and the loaded data: 0.3-1 s per training, 47 s of the test
    suite's CPU over its many tiny trainings (py-spy). Garbage made during training is collected
    as before; unfreeze() hands the older objects back to the collector afterwards, unless the
    process had frozen objects itself before (then they stay as it left them)."""
    frozen_before = gc.get_freeze_count()
    gc.freeze()
    try:
        return trainer.train()
    finally:
        if not frozen_before:
            gc.unfreeze()
