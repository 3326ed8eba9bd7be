"""Pure-PyTorch reference implementations of every skdcore op.

Readable, eager, slow: the ground truth for tests, the baseline for benchmarks, and a
fallback where the compiled kernels are unavailable.
"""
