"""The notebook face: the %%ninja and %ninja magics and the lecture's cmp() with a diagnosis."""

import warnings

# torch warns at import when NumPy is absent (the `jupyter` extra brings it; a kernel may still lack it): the
# tutor never needs NumPy, and `%load_ext tutor.jupyter` should print nothing. Set here, before any module of
# the notebook face imports torch.
warnings.filterwarnings("ignore", message=".*Failed to initialize NumPy.*")
