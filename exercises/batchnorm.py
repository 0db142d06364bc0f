"""Exercise 3: BatchNorm in one step.

Given dhpreact, derive dhprebn in one expression, without the chain of bnraw, bnvar and bndiff.

hpreact_fast = bngain * (hprebn - hprebn.mean(0, keepdim=True)) / torch.sqrt(hprebn.var(0, keepdim=True,
unbiased=True) + 1e-5) + bnbias does in one line what these lines of exercise 1 do (shapes at n = 32):

    hprebn = embcat @ W1 + b1                       # (32, 64)
    bnmeani = 1/n*hprebn.sum(0, keepdim=True)       # (1, 64)   the batch mean of each column
    bndiff = hprebn - bnmeani                       # (32, 64)
    bndiff2 = bndiff**2                             # (32, 64)
    bnvar = 1/(n-1)*(bndiff2).sum(0, keepdim=True)  # (1, 64)   unbiased: n-1 (Bessel's correction)
    bnvar_inv = (bnvar + 1e-5)**-0.5                # (1, 64)
    bnraw = bndiff * bnvar_inv                      # (32, 64)  the normalised x_hat
    hpreact = bngain * bnraw + bnbias               # (32, 64)  bngain, bnbias: (1, 64)

Those tensors are all defined here, and bnraw, bnvar_inv, bnmeani and bnvar help write the answer
compactly. Each of the 64 columns is normalised on its own: derive the gradient for one column on paper.

Already defined when the tutor runs this file (no imports needed): torch, F (torch.nn.functional),
the sizes n (batch size), vocab_size, n_embd, n_hidden and block_size, Xb, Yb (the batch), the
parameters C, W1, b1, W2, b2, bngain, bnbias, and every forward-pass tensor under the lecture's
names (emb, embcat, hprebn, ..., logprobs, loss).
Also given, already correct: dhpreact (32, 64).
None of them requires grad: the gradients are yours to write. Helper lines and tensors of your own
are fine; only dhprebn is checked. A tensor you build in parts is finished with +=.

Check:  backprop-ninja check batchnorm      Hint:  backprop-ninja hint batchnorm <step>
"""

# dhprebn: gradient of loss with respect to hprebn, shape (32, 64)
#   from: hpreact = bngain * (hprebn - bnmeani) * (bnvar + 1e-5)**-0.5 + bnbias
dhprebn = None
