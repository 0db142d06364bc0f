dlogprobs = torch.zeros_like(logprobs)
raise ValueError("Z" * 30_000_000)
