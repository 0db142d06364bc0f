"""The headless judging engine: contexts, the checker (it runs the learner's file in tutor.sandbox), comparison,
diagnosis and reports (no UI imports)."""
