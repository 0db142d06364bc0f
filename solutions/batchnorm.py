# Reference solution for exercise 3: the fused BatchNorm gradient, one expression per column.
dhprebn = bngain * bnvar_inv / n * (n * dhpreact - dhpreact.sum(0) - n / (n - 1) * bnraw * (dhpreact * bnraw).sum(0))
