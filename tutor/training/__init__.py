"""Exercise 4: grad-check the learner's backward pass on the loop's batches, then train with it.

Importing the package loads no torch: `tutor.training.session` (train_exercise) and the trainer load it where
they are used; `tutor.training.client` and `tutor.training.view` serve the TUI and the CLI without it.
"""
