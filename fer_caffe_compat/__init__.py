"""Caffe's FER workflow (prototxt nets, solvers, LMDBs, logs) on modern PyTorch."""

__version__ = "0.1.0"
