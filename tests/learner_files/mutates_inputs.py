probs.zero_()
logprobs.fill_(7.0)
dlogprobs = torch.zeros_like(logprobs)
dlogprobs[range(n), Yb] = -1.0 / n
