"""Training: jobs, the worker process, fine-tuning (LoRA or full), metrics, models, exports.

The ML core (:mod:`.engine`) turns records held in memory into a trained model's weights as bytes;
it never touches the vault or the disk. The job layer feeds it through the gate and keeps what it
returns encrypted in the vault.
"""
