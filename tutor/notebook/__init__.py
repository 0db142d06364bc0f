"""The notebook face: the %%ninja and %ninja magics and the lecture's cmp() with a diagnosis."""
