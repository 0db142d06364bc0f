dlogprobs = torch.zeros_like(logprobs, dtype=torch.float64)
dprobs = [1, 2, 3]
dcounts_sum_inv = torch.full_like(counts_sum_inv, float("nan"))
dcounts_sum = torch.zeros(32)
dcounts = torch.zeros(27, 32)
