"""The emotion service: an HTTP API over a trained net (FastAPI, served by uvicorn) and its web page.

``POST /predict`` takes an image and answers every face's box, probabilities and top emotion, with the
face detection and preprocessing of tools/classify (eval/emotions.py). ``GET /`` is the page,
``GET /health`` says the model is loaded.
"""
from __future__ import annotations

from .app import create_app
from .model import EmotionModel, RequestError

__all__ = ["EmotionModel", "RequestError", "create_app"]
