# An object that claims to be a tensor, and a tensor subclass whose dtype raises: each spoils its own step only.
class Impostor:
    __class__ = torch.Tensor


class Sneaky(torch.Tensor):
    @property
    def dtype(self):
        raise RuntimeError("no dtype for you")


dlogprobs = -1.0 / n * torch.zeros_like(logprobs).scatter_(1, Yb.view(-1, 1), 1.0)
dprobs = Impostor()
dcounts_sum_inv = torch.zeros(n, 1).as_subclass(Sneaky)
