dlogprobs = torch.zeros_like(logprobs)
dlogprobs[range(n), Yb] = -1.0 / n
hog = torch.ones(64 * 1024 * 1024 * 1024 // 4)
