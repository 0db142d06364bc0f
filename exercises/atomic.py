"""Exercise 1: Backprop through every atom.

Write the 26 gradients of the chunked forward pass, one line at a time, from dlogprobs back to dC.

Already defined when the tutor runs this file (no imports needed): torch, F (torch.nn.functional),
the sizes n (batch size), vocab_size, n_embd, n_hidden and block_size, Xb, Yb (the batch), the
parameters C, W1, b1, W2, b2, bngain, bnbias, and every forward-pass tensor under the lecture's
names (emb, embcat, hprebn, ..., logprobs, loss).
None of them requires grad: the gradients are yours to write.

The forward pass you differentiate, with every tensor's shape at n = 32:

    emb = C[Xb]                                     # (32, 3, 10)  C: (27, 10), Xb: (32, 3)
    embcat = emb.view(emb.shape[0], -1)             # (32, 30)
    hprebn = embcat @ W1 + b1                       # (32, 64)     W1: (30, 64), b1: (64,)
    bnmeani = 1/n*hprebn.sum(0, keepdim=True)       # (1, 64)
    bndiff = hprebn - bnmeani                       # (32, 64)
    bndiff2 = bndiff**2                             # (32, 64)
    bnvar = 1/(n-1)*(bndiff2).sum(0, keepdim=True)  # (1, 64)
    bnvar_inv = (bnvar + 1e-5)**-0.5                # (1, 64)
    bnraw = bndiff * bnvar_inv                      # (32, 64)
    hpreact = bngain * bnraw + bnbias               # (32, 64)     bngain, bnbias: (1, 64)
    h = torch.tanh(hpreact)                         # (32, 64)
    logits = h @ W2 + b2                            # (32, 27)     W2: (64, 27), b2: (27,)
    logit_maxes = logits.max(1, keepdim=True).values  # (32, 1)
    norm_logits = logits - logit_maxes              # (32, 27)
    counts = norm_logits.exp()                      # (32, 27)
    counts_sum = counts.sum(1, keepdims=True)       # (32, 1)
    counts_sum_inv = counts_sum**-1                 # (32, 1)
    probs = counts * counts_sum_inv                 # (32, 27)
    logprobs = probs.log()                          # (32, 27)
    loss = -logprobs[range(n), Yb].mean()           # ()           Yb: (32,)

Helper lines and tensors of your own are fine; only the d-names below are checked. A tensor used
twice in the forward pass gets two contributions: assign the first, then add the second with +=.

Check:  backprop-ninja check atomic      Hint:  backprop-ninja hint atomic <step>
"""

# dlogprobs: gradient of loss with respect to logprobs, shape (32, 27)
#   from: loss = -logprobs[range(n), Yb].mean()
dlogprobs = None

# dprobs: gradient of loss with respect to probs, shape (32, 27)
#   from: logprobs = probs.log()
dprobs = None

# dcounts_sum_inv: gradient of loss with respect to counts_sum_inv, shape (32, 1)
#   from: probs = counts * counts_sum_inv
dcounts_sum_inv = None

# dcounts_sum: gradient of loss with respect to counts_sum, shape (32, 1)
#   from: counts_sum_inv = counts_sum**-1
dcounts_sum = None

# dcounts: gradient of loss with respect to counts, shape (32, 27)
#   from: probs = counts * counts_sum_inv  and  counts_sum = counts.sum(1, keepdims=True)
dcounts = None

# dnorm_logits: gradient of loss with respect to norm_logits, shape (32, 27)
#   from: counts = norm_logits.exp()
dnorm_logits = None

# dlogit_maxes: gradient of loss with respect to logit_maxes, shape (32, 1)
#   from: norm_logits = logits - logit_maxes
dlogit_maxes = None

# dlogits: gradient of loss with respect to logits, shape (32, 27)
#   from: norm_logits = logits - logit_maxes  and  logit_maxes = logits.max(1, keepdim=True).values
dlogits = None

# dh: gradient of loss with respect to h, shape (32, 64)
#   from: logits = h @ W2 + b2
dh = None

# dW2: gradient of loss with respect to W2, shape (64, 27)
#   from: logits = h @ W2 + b2
dW2 = None

# db2: gradient of loss with respect to b2, shape (27,)
#   from: logits = h @ W2 + b2
db2 = None

# dhpreact: gradient of loss with respect to hpreact, shape (32, 64)
#   from: h = torch.tanh(hpreact)
dhpreact = None

# dbngain: gradient of loss with respect to bngain, shape (1, 64)
#   from: hpreact = bngain * bnraw + bnbias
dbngain = None

# dbnbias: gradient of loss with respect to bnbias, shape (1, 64)
#   from: hpreact = bngain * bnraw + bnbias
dbnbias = None

# dbnraw: gradient of loss with respect to bnraw, shape (32, 64)
#   from: hpreact = bngain * bnraw + bnbias
dbnraw = None

# dbnvar_inv: gradient of loss with respect to bnvar_inv, shape (1, 64)
#   from: bnraw = bndiff * bnvar_inv
dbnvar_inv = None

# dbnvar: gradient of loss with respect to bnvar, shape (1, 64)
#   from: bnvar_inv = (bnvar + 1e-5)**-0.5
dbnvar = None

# dbndiff2: gradient of loss with respect to bndiff2, shape (32, 64)
#   from: bnvar = 1/(n-1)*(bndiff2).sum(0, keepdim=True)
dbndiff2 = None

# dbndiff: gradient of loss with respect to bndiff, shape (32, 64)
#   from: bnraw = bndiff * bnvar_inv  and  bndiff2 = bndiff**2
dbndiff = None

# dbnmeani: gradient of loss with respect to bnmeani, shape (1, 64)
#   from: bndiff = hprebn - bnmeani
dbnmeani = None

# dhprebn: gradient of loss with respect to hprebn, shape (32, 64)
#   from: bndiff = hprebn - bnmeani  and  bnmeani = 1/n*hprebn.sum(0, keepdim=True)
dhprebn = None

# dembcat: gradient of loss with respect to embcat, shape (32, 30)
#   from: hprebn = embcat @ W1 + b1
dembcat = None

# dW1: gradient of loss with respect to W1, shape (30, 64)
#   from: hprebn = embcat @ W1 + b1
dW1 = None

# db1: gradient of loss with respect to b1, shape (64,)
#   from: hprebn = embcat @ W1 + b1
db1 = None

# demb: gradient of loss with respect to emb, shape (32, 3, 10)
#   from: embcat = emb.view(emb.shape[0], -1)
demb = None

# dC: gradient of loss with respect to C, shape (27, 10)
#   from: emb = C[Xb]
dC = None
