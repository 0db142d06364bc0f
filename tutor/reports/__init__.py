"""What a check and a training run report, as plain data that imports no torch and no UI.

`tutor.reports.check` holds a check's verdicts (CheckReport, TensorVerdict, LearnerError, the status words) and
the check service's reply; `tutor.reports.training` a training run's events and its TrainingResult. The engine
builds them; the CLI, the TUI, the progress store and JSON read them. Each has `to_json()` and `from_json()`,
which round-trip exactly.
"""
