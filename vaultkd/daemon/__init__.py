"""The background daemon: watch a vault, wait for a quiet period, distill through the pipeline."""
