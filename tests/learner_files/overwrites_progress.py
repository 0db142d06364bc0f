# Learner code that tramples the tutor's progress file (a stray write, or on purpose).
from pathlib import Path

state = Path(__file__).parent / ".backprop-ninja" / "progress.json"
if state.parent.is_dir():
    state.write_text("not progress any more")
dlogprobs = torch.zeros_like(logprobs)
