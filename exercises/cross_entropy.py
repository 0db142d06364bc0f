"""Exercise 2: Cross-entropy in one step.

Derive dlogits directly from the logits, without going through probs and logprobs.

F.cross_entropy(logits, Yb) does in one call what these lines of exercise 1 do (shapes at n = 32):

    logits = h @ W2 + b2                              # (32, 27)  Yb: (32,) targets
    logit_maxes = logits.max(1, keepdim=True).values  # (32, 1)
    norm_logits = logits - logit_maxes                # (32, 27)
    counts = norm_logits.exp()                        # (32, 27)
    counts_sum = counts.sum(1, keepdims=True)         # (32, 1)
    counts_sum_inv = counts_sum**-1                   # (32, 1)
    probs = counts * counts_sum_inv                   # (32, 27)
    logprobs = probs.log()                            # (32, 27)
    loss = -logprobs[range(n), Yb].mean()             # ()

Work it out on paper for one example, then write dlogits for the whole batch.

Already defined when the tutor runs this file (no imports needed): torch, F (torch.nn.functional),
the sizes n (batch size), vocab_size, n_embd, n_hidden and block_size, Xb, Yb (the batch), the
parameters C, W1, b1, W2, b2, bngain, bnbias, and every forward-pass tensor under the lecture's
names (emb, embcat, hprebn, ..., logprobs, loss).
None of them requires grad: the gradients are yours to write. Helper lines and tensors of your own
are fine; only dlogits is checked. A tensor you build in two parts is finished with +=.

Check:  backprop-ninja check cross-entropy      Hint:  backprop-ninja hint cross-entropy <step>
"""

# dlogits: gradient of loss with respect to logits, shape (32, 27)
#   from: loss_fast = F.cross_entropy(logits, Yb)
dlogits = None
