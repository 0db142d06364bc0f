import os

dlogprobs = torch.zeros_like(logprobs)
dlogprobs[range(n), Yb] = -1.0 / n
for _ in range(2000):
    os.write(1, b"y" * 1000)
print("hello from the learner")
