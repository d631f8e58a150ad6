"""Argument parsing for each tool (Caffe's flag names accepted); no numerics here."""
