"""Remakes python-written.safetensors, the file SafeTensorsInteropTests reads: run from this folder with
`python3 make_fixture.py` (needs `pip install safetensors numpy`). The tests hold the expected values, so a
change here needs the same change there."""
import numpy as np
from safetensors.numpy import save_file

tensors = {
    # Python's writer orders the data by dtype (F64 first), then name, so this one comes first in the buffer
    # although its name sorts last; its offsets, not the header order, say where each tensor is.
    "z.double": np.array([0.1, -2.5, 1e-300], dtype=np.float64),
    "scalar": np.array([-0.0], dtype=np.float32),
    "matrix": (np.arange(15, dtype=np.float32) / np.float32(7)).reshape(3, 5),
    "specials": np.array([np.inf, -np.inf, np.finfo(np.float32).max, np.finfo(np.float32).smallest_subnormal,
                          -np.finfo(np.float32).tiny], dtype=np.float32),
    "cube": np.array([1, 2, 3, 4, 5, 6], dtype=np.float32).reshape(2, 1, 3),
    "empty": np.zeros((0, 4), dtype=np.float32),
    "rank0": np.array(2.5, dtype=np.float32),
}
save_file(tensors, "python-written.safetensors",
          metadata={"format": "pt", "note": "written by safetensors.numpy", "unicode": "\u00e9\u4e2d"})
