"""Data package: the project asset bank (files in stimuli/ at the repository root)."""
