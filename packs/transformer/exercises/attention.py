"""Transformer exercise 3: one causal self-attention head, atom by atom.

Write every gradient of one head of causal self-attention, its softmax split into lines, from dout
back to dx. Position i attends only to positions j <= i: tril is the causal mask.

Already defined when the tutor runs this file (no imports needed): torch, F, the sizes n (sequences),
T (positions), C (channels) and H (head size), the input x, the parameters Wq, Wk, Wv, Wo, the mask
tril and the loss's fixed weights wout (both made by the model's init), and every forward tensor below.

The forward pass you differentiate, with every tensor's shape at n = 4, T = 8, C = 16, H = 8:

    q = x @ Wq                          # (4, 8, 8)   x: (4, 8, 16), Wq, Wk, Wv: (16, 8)
    k = x @ Wk                          # (4, 8, 8)
    v = x @ Wv                          # (4, 8, 8)
    qk = q @ k.transpose(-2, -1)        # (4, 8, 8)
    scores = qk * H**-0.5               # (4, 8, 8)
    wei = scores.masked_fill(tril == 0, float("-inf"))  # (4, 8, 8)  tril: (8, 8)
    wmax = wei.max(-1, keepdim=True).values  # (4, 8, 1)
    wn = wei - wmax                     # (4, 8, 8)
    wexp = wn.exp()                     # (4, 8, 8)
    wsum = wexp.sum(-1, keepdim=True)   # (4, 8, 1)
    wsum_inv = wsum**-1                 # (4, 8, 1)
    att = wexp * wsum_inv               # (4, 8, 8)
    y = att @ v                         # (4, 8, 8)
    out = y @ Wo                        # (4, 8, 16)  Wo: (8, 16)
    loss = (out * wout).mean()          # ()          wout: (4, 8, 16)

Every check also runs a second batch with other n, T, C and H: write sizes by name, never as numbers.

Check:  backprop-ninja --course transformer check attention
Hint:   backprop-ninja --course transformer hint attention <step>
"""

# dout: gradient of loss with respect to out, shape (4, 8, 16)
#   from: loss = (out * wout).mean()
dout = None

# dWo: gradient of loss with respect to Wo, shape (8, 16)
#   from: out = y @ Wo
dWo = None

# dy: gradient of loss with respect to y, shape (4, 8, 8)
#   from: out = y @ Wo
dy = None

# datt: gradient of loss with respect to att, shape (4, 8, 8)
#   from: y = att @ v
datt = None

# dv: gradient of loss with respect to v, shape (4, 8, 8)
#   from: y = att @ v
dv = None

# dwsum_inv: gradient of loss with respect to wsum_inv, shape (4, 8, 1)
#   from: att = wexp * wsum_inv
dwsum_inv = None

# dwsum: gradient of loss with respect to wsum, shape (4, 8, 1)
#   from: wsum_inv = wsum**-1
dwsum = None

# dwexp: gradient of loss with respect to wexp, shape (4, 8, 8)
#   from: att = wexp * wsum_inv  and  wsum = wexp.sum(-1, keepdim=True)
dwexp = None

# dwn: gradient of loss with respect to wn, shape (4, 8, 8)
#   from: wexp = wn.exp()
dwn = None

# dwmax: gradient of loss with respect to wmax, shape (4, 8, 1)
#   from: wn = wei - wmax
dwmax = None

# dwei: gradient of loss with respect to wei, shape (4, 8, 8)
#   from: wn = wei - wmax  and  wmax = wei.max(-1, keepdim=True).values
dwei = None

# dscores: gradient of loss with respect to scores, shape (4, 8, 8)
#   from: wei = scores.masked_fill(tril == 0, float("-inf"))
dscores = None

# dqk: gradient of loss with respect to qk, shape (4, 8, 8)
#   from: scores = qk * H**-0.5
dqk = None

# dq: gradient of loss with respect to q, shape (4, 8, 8)
#   from: qk = q @ k.transpose(-2, -1)
dq = None

# dk: gradient of loss with respect to k, shape (4, 8, 8)
#   from: qk = q @ k.transpose(-2, -1)
dk = None

# dWq: gradient of loss with respect to Wq, shape (16, 8)
#   from: q = x @ Wq
dWq = None

# dWk: gradient of loss with respect to Wk, shape (16, 8)
#   from: k = x @ Wk
dWk = None

# dWv: gradient of loss with respect to Wv, shape (16, 8)
#   from: v = x @ Wv
dWv = None

# dx: gradient of loss with respect to x, shape (4, 8, 16)
#   from: q = x @ Wq  and  k = x @ Wk  and  v = x @ Wv
dx = None
