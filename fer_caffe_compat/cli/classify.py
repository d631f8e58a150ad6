"""tools/classify: emotions of the faces in photographs, folders of images or a video.

    tools/classify photo.jpg                 # nets/pretrained, the shipped FER model
    tools/classify --sample                  # scikit-image's astronaut photo (make demo ends with it)
    tools/classify --model nets/lenet_deploy.prototxt --weights lenet.caffemodel --scale 0.00390625 photo.jpg
    tools/classify --demo photo.jpg          # make demo's LeNet

Each face found by OpenCV's Haar cascade is cropped, converted and resized as the training images were
(the mean file's size, else the net's input), then mean and scale are applied. One JSON line per face on
stdout: {"file", "frame" (video frame number, null for images), "box": [x, y, w, h], "probabilities", "top"}.
An image or frame without a face prints "<file>: no face found" on stderr and no JSON line; that is not an
error (exit 0). An input that is not an image, or a video that cannot be opened, is an error (exit 1).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ..errors import CaffeError
from ..eval.annotate import annotate
from ..eval.emotions import classify_faces, face_record
from ..eval.labels import class_names
from ..eval.visualize import save_png
from .common import ArgumentParser, run
from .net_args import add_model_args, choose_model, make_predictor

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".ppm", ".pnm", ".tif", ".tiff", ".webp", ".jp2"}
VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v", ".wmv", ".flv", ".3gp"}


def parse(argv: list[str]):
    p = ArgumentParser(prog="classify", description=__doc__.split("\n")[0])
    add_model_args(p, batch=False, pretrained=True)
    p.add_argument("inputs", nargs="*", help="images, folders of images, or video files")
    p.add_argument("--sample", action="store_true", help="also classify scikit-image's astronaut photo "
                                                         "(bundled, offline), with a summary on stderr")
    p.add_argument("--labels", help="class names, one per line (default: FER's seven)")
    p.add_argument("--no-detect", action="store_true", help="inputs are already cropped faces")
    p.add_argument("--annotate", help="annotated PNG: a .png path (one input image) or a folder")
    p.add_argument("--every", type=int, default=10, help="classify every Nth frame of a video (10)")
    p.add_argument("--min-face", type=int, default=30, help="smallest face side in pixels (30)")
    p.add_argument("--oversample", action="store_true", help="average 10 crops (needs a net input smaller "
                                                           "than the training images)")
    return p.parse_args(argv)


Frame = tuple[str, int | None, np.ndarray]


class Sample(str):
    """The --sample photo among the input paths; the name it goes by in the JSON lines and --annotate."""


SAMPLE = Sample("astronaut.png")


def sample_photo() -> np.ndarray:
    """scikit-image's astronaut (Eileen Collins, NASA; public domain), 512x512, as OpenCV's BGR."""
    from skimage import data
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def expand(inputs: list[str]) -> list[str]:
    """Folders become their image files (sorted); missing paths are an error before anything runs."""
    files = []
    for x in inputs:
        if os.path.isdir(x):
            found = sorted(str(p) for p in Path(x).iterdir() if p.suffix.lower() in IMAGE_EXTS | VIDEO_EXTS)
            if not found:
                raise CaffeError(f"{x}: folder holds no image or video files")
            files += found
        elif os.path.exists(x):
            files.append(x)
        else:
            raise CaffeError(f"{x}: no such file or directory")
    return files


def frames(path: str, every: int) -> Iterator[Frame]:
    if isinstance(path, Sample):
        yield path, None, sample_photo()
        return
    if Path(path).suffix.lower() not in VIDEO_EXTS:
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise CaffeError(f"{path}: not an image (OpenCV cannot decode it)")
        yield path, None, img
        return
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # else FFmpeg prints its own lines for a bad file
    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            raise CaffeError(f"{path}: cannot open the video")
        i = got = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if i % every == 0:
                got += 1
                yield path, i, frame
            i += 1
        if got == 0:
            raise CaffeError(f"{path}: cannot read any frame from the video")
    finally:
        cap.release()


def annotated_path(target: str, path: str, frame: int | None, single: bool) -> Path:
    if single:
        return Path(target)
    stem = Path(path).stem + ("" if frame is None else f"_f{frame:06d}")
    return Path(target) / f"{stem}.png"


def main(argv: list[str]) -> int:
    args = parse(argv)
    if args.every < 1:
        raise CaffeError(f"--every {args.every}: must be at least 1")
    if not args.inputs and not args.sample:
        raise CaffeError("nothing to classify: give images, folders or videos, or --sample")
    files = expand(args.inputs) + ([SAMPLE] if args.sample else [])
    single = bool(args.annotate) and args.annotate.lower().endswith(".png")
    if single and (len(files) != 1 or Path(files[0]).suffix.lower() in VIDEO_EXTS):
        raise CaffeError(f"--annotate {args.annotate}: a .png path takes one input image; give a folder")
    choose_model(args)
    pred = make_predictor(args)
    names = class_names(args.labels, pred.num_classes)
    for path in files:
        for file, frame, img in frames(path, args.every):
            where = file if frame is None else f"{file} frame {frame}"
            faces = classify_faces(pred, img, detect=not args.no_detect, min_face=args.min_face,
                                   oversample=args.oversample, where=where)
            if not faces:
                print(f"classify: {where}: no face found", file=sys.stderr, flush=True)
            for box, p in faces:
                print(json.dumps({"file": file, "frame": frame, **face_record(box, p, names)}), flush=True)
            if isinstance(file, Sample):
                print(sample_summary(faces, names), file=sys.stderr, flush=True)
            if args.annotate:
                save_png(annotated_path(args.annotate, file, frame, single),
                         cv2.cvtColor(annotate(img, faces, names), cv2.COLOR_BGR2RGB))
    return 0


def sample_summary(faces: list, names: list[str]) -> str:
    """One line for a person reading make demo's output: each face with its top emotion."""
    said = "; ".join(f"face {i} at {list(map(int, box))}: {names[int(np.argmax(p))]} {float(np.max(p)):.2f}"
                     for i, (box, p) in enumerate(faces, 1))
    return (f"classify: the sample photo (scikit-image's astronaut): {len(faces)} face(s)"
            + (f": {said}" if said else ""))


if __name__ == "__main__":
    run(main, "classify")
