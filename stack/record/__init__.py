"""The probe set and ``stack-record``: the kernel and tunstack recorders."""
