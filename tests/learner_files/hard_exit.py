import os

dlogprobs = torch.zeros_like(logprobs)
os._exit(3)
