"""Exercise 4: grad-check the learner's backward pass on the loop's batches, then train with it."""

from tutor.training.events import Event, GradCheckStep, PhaseStarted, Progress, Trained, TrainingResult
from tutor.training.session import train_exercise

__all__ = ["Event", "GradCheckStep", "PhaseStarted", "Progress", "Trained", "TrainingResult", "train_exercise"]
