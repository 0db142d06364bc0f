# Learner code that rewrites the tutor's progress with a valid-looking file, and its last good copy too.
import json
from pathlib import Path

state = Path(__file__).parent / ".backprop-ninja"
if state.is_dir():
    forged = {"version": 1, "current": {"exercise": None, "step": None}, "exercises": {"made-up": {"passed": True}}}
    for name in ("progress.json", "progress.json.bak"):
        (state / name).write_text(json.dumps(forged))
dlogprobs = torch.zeros_like(logprobs)
