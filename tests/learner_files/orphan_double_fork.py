# A daemon the classic way: fork, setsid, fork again, parent exits; the grandchild is an orphan.
import os
import time
from pathlib import Path

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        Path(__file__).with_suffix(".pid").write_text(str(os.getpid()))
        time.sleep(120)
    os._exit(0)
time.sleep(0.5)
dlogprobs = torch.zeros_like(logprobs)
