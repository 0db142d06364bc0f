"""Not a test: how much the tutor's trainer costs over the bare training loop.

Times N steps of the reference solution of exercise 4 run by the tutor's trainer process (the learner's
file exec'd per step, gradients validated, progress streamed) against the same loop written out as a
plain standalone script (the lecture's code with the solution pasted in), each in a fresh process with
one torch thread. Only the loops are timed (not imports or data building). Prints one JSON line.

    python bench/train_overhead.py [--steps 3000] [--repeats 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

warnings.filterwarnings("ignore", message=".*Failed to initialize NumPy.*")

from tutor.course import load_course  # noqa: E402
from tutor.engine.data import BUNDLED  # noqa: E402
from tutor.training.trainer import run_trainer  # noqa: E402

PLAIN = '''
import json, random, sys, time
import torch
import torch.nn.functional as F
torch.set_num_threads(1)
words = [w.strip() for w in open({data!r}, encoding="utf-8").read().splitlines() if w.strip()]
chars = sorted(set("".join(words)))
stoi = {{s: i + 1 for i, s in enumerate(chars)}}
stoi["."] = 0
random.seed(42)
random.shuffle(words)
def build_dataset(words):
    X, Y = [], []
    for w in words:
        context = [0] * block_size
        for ch in w + ".":
            X.append(context)
            Y.append(stoi[ch])
            context = context[1:] + [stoi[ch]]
    return torch.tensor(X), torch.tensor(Y)
vocab_size, n_embd, n_hidden, block_size = len(stoi), {n_embd}, {n_hidden}, {block_size}
batch_size = n = {batch_size}
seed = {seed}
Xtr, Ytr = build_dataset(words[: int(0.8 * len(words))])
{init}
device = {device!r}
{parameters} = [p.to(device) for p in ({parameters},)]
Xtr, Ytr = Xtr.to(device), Ytr.to(device)
parameters = [{parameters}]
max_steps = {steps}
lossi = []
started = time.perf_counter()
with torch.no_grad():
    for i in range(max_steps):
{batch}
{forward}
{backward}
        lr = {lr} if i < {decay_at} else {lr_after}
        for p, grad in zip(parameters, [{grads}]):
            p.data += -lr * grad
        lossi.append(loss.log10().item())
print(json.dumps({{"seconds": time.perf_counter() - started, "last": lossi[-1]}}))
'''


def indent(code: str, spaces: int = 8) -> str:
    return "\n".join(" " * spaces + line if line.strip() else "" for line in code.strip().splitlines())


def plain_script(exercise, steps: int, data: Path, device: str) -> str:
    model, training = exercise.model, exercise.training
    by_param = {s.of: s.name for s in exercise.steps}
    return PLAIN.format(
        data=str(data), device=device, n_embd=model.n_embd, n_hidden=model.n_hidden, block_size=model.block_size,
        batch_size=exercise.context.batch_size, seed=exercise.context.seed, init=model.init.strip(),
        parameters=", ".join(model.parameters), steps=steps, batch=indent(model.batch), forward=indent(model.forward),
        backward=indent(exercise.solution.read_text()), lr=training.lr, lr_after=training.lr_after,
        decay_at=int(steps * training.lr_decay_at), grads=", ".join(by_param[p] for p in model.parameters),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu", help="where both loops run (cpu or cuda)")
    args = parser.parse_args()
    exercise = load_course().find("training")
    source = exercise.solution.read_text()
    request = {
        "mode": "learner", "course_root": str(ROOT), "exercise": exercise.id, "data": str(BUNDLED),
        "device": args.device, "steps": args.steps, "run_steps": args.steps, "source": source,
        "filename": str(exercise.solution),
    }
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "plain_loop.py"
        script.write_text(plain_script(exercise, args.steps, BUNDLED, args.device))
        tutor_times, plain_times = [], []
        for _ in range(args.repeats):
            trained = run_trainer(request, "learner", None, None)
            if trained.error or trained.steps != args.steps:
                raise SystemExit(f"the tutor's trainer failed: {trained.error}")
            tutor_times.append(trained.seconds)
            out = subprocess.run([sys.executable, "-W", "ignore", str(script)], capture_output=True, text=True, check=True,
                                 env={**os.environ, "OMP_NUM_THREADS": "1"})
            plain_times.append(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])
    tutor_s, plain_s = min(tutor_times), min(plain_times)
    print(json.dumps({
        "steps": args.steps, "device": args.device, "repeats": args.repeats,
        "tutor_s": round(tutor_s, 4), "plain_s": round(plain_s, 4), "ratio": round(tutor_s / plain_s, 4),
        "tutor_runs": [round(t, 4) for t in tutor_times], "plain_runs": [round(t, 4) for t in plain_times],
    }))


if __name__ == "__main__":
    main()
