# The first two gradients, with the lecture's batch size written as a number instead of n.
dlogprobs = torch.zeros_like(logprobs)
dlogprobs[range(n), Yb] = -1.0 / 32
dprobs = (1.0 / probs) * dlogprobs
