"""Exercise 2: Cross-entropy in one step.

Derive dlogits directly from the logits, without going through probs and logprobs.

Already defined when the tutor runs this file (no imports needed): torch, F (torch.nn.functional),
n (batch size), Xb, Yb (the batch), the parameters C, W1, b1, W2, b2, bngain, bnbias, and every
forward-pass tensor under the lecture's names (emb, embcat, hprebn, ..., logprobs, loss).
None of them requires grad: the gradients are yours to write.

Check:  backprop-ninja check cross-entropy      Hint:  backprop-ninja hint cross-entropy <step>
"""

# dlogits: gradient of loss with respect to logits, shape (32, 27)
#   from: loss_fast = F.cross_entropy(logits, Yb)
dlogits = None
