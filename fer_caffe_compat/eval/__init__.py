"""Evaluation and deploy: metrics, plots, class names, prediction over datasets, faces, net pictures."""
