"""Training: jobs, the worker process, fine-tuning (LoRA or full), metrics, models, exports.

The ML core (:mod:`.engine`) turns records held in memory into a trained model's weights as bytes;
it never touches the vault or the disk. The job layer feeds it through the gate and keeps what it
returns encrypted in the vault.

torch's runtime is loaded before regopy's by the package root (``appliance/__init__.py``), which
every import of this subpackage runs first: the two libraries corrupt the heap the other way round.
"""
