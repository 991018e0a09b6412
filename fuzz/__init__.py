"""Fuzzing tunstack: atheris targets (``fuzz/<target>.py``), the structure-aware
mutator, seeds and dictionaries, and the ``stack-fuzz`` command. See docs/fuzzing.md."""
