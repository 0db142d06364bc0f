dlogprobs = torch.zeros_like(logprobs)
dprobs = (1.0 / probs * dlogprobs
