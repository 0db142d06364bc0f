# A forked copy of the child keeps the result pipe open for a minute; the answer must not wait for it.
import os
import time

if os.fork() == 0:
    time.sleep(60)
    os._exit(0)
dlogprobs = -1.0 / n * torch.zeros_like(logprobs).scatter_(1, Yb.view(-1, 1), 1.0)
