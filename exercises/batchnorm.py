"""Exercise 3: BatchNorm in one step.

Given dhpreact, derive dhprebn in one expression, without the chain of bnraw, bnvar and bndiff.

Already defined when the tutor runs this file (no imports needed): torch, F (torch.nn.functional),
n (batch size), Xb, Yb (the batch), the parameters C, W1, b1, W2, b2, bngain, bnbias, and every
forward-pass tensor under the lecture's names (emb, embcat, hprebn, ..., logprobs, loss).
Also given, already correct: dhpreact.
None of them requires grad: the gradients are yours to write.

Check:  backprop-ninja check batchnorm      Hint:  backprop-ninja hint batchnorm <step>
"""

# dhprebn: gradient of loss with respect to hprebn, shape (32, 64)
#   from: hpreact = bngain * (hprebn - bnmean) * (bnvar + 1e-5)**-0.5 + bnbias
dhprebn = None
