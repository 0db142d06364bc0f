# 400 MB: too large to travel back, yet its shape is plainly wrong.
dlogprobs = torch.zeros(100_000_000)
