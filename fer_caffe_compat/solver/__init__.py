"""Caffe's solvers: lr policies, update rules, .solverstate files and the training loop."""
