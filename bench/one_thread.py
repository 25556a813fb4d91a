"""Pin the BLAS and OpenMP thread pools to one thread: import this before NumPy.

The benchmarks' targets are per core, and a figure that borrowed the machine's other cores
would flatter the batched code and vary with the machine's load. Each script in bench/
imports this module first (``import one_thread  # noqa: F401``).
"""

import os

for _var in (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "BLIS_NUM_THREADS",
):
    os.environ[_var] = "1"
