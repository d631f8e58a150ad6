"""tools/serve: an HTTP service that tells the emotion of every face in a photo, with a web page.

    tools/serve [--host 127.0.0.1] [--port 8000] [--max_bytes 10485760]     # nets/pretrained
    tools/serve --demo                                                      # make demo's LeNet
    tools/serve --model nets/lenet_deploy.prototxt --weights W.caffemodel --mean mean.binaryproto \\
                --scale 0.00390625

    curl -F file=@photo.jpg http://127.0.0.1:8000/predict
    curl --data-binary @photo.jpg -H 'Content-Type: image/jpeg' http://127.0.0.1:8000/predict

POST /predict answers {"width", "height", "faces": [{"box": [x, y, w, h], "probabilities", "top"}]}, with
tools/classify's face detection and preprocessing. GET / is the page, GET /health the model's status.
A bad request gets a 4xx and {"error": "..."}: 400 (empty body, not an image), 413 (over --max_bytes),
415 (not an image content type).
"""
from __future__ import annotations

import os

from ..errors import CaffeError
from ..eval.labels import class_names
from .common import ArgumentParser, run
from .net_args import add_model_args, choose_model, make_predictor


def parse(argv: list[str]):
    p = ArgumentParser(prog="serve", description=__doc__.split("\n")[0])
    add_model_args(p, batch=False, pretrained=True)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (8000)")
    p.add_argument("--max_bytes", "--max-bytes", dest="max_bytes", type=int, default=10 * 2**20,
                   help="largest request body accepted, in bytes (10 MiB)")
    p.add_argument("--labels", help="class names, one per line (default: FER's seven)")
    p.add_argument("--min-face", type=int, default=30, help="smallest face side in pixels (30)")
    p.add_argument("--batch-size", type=int, default=8, help="faces per forward pass (8)")
    return p.parse_args(argv)


def build(args):
    """The FastAPI app over the model the arguments name (loaded once, here)."""
    from ..serve import EmotionModel, create_app

    if args.max_bytes < 1:
        raise CaffeError(f"--max_bytes {args.max_bytes}: must be at least 1")
    if args.batch_size < 1:
        raise CaffeError(f"--batch-size {args.batch_size}: must be at least 1")
    card = choose_model(args)
    pred = make_predictor(args)
    info = {"model": os.path.basename(args.model), "weights": os.path.basename(args.weights),
            "max_bytes": args.max_bytes}
    if card is not None:  # the shipped model: its name and PublicTest accuracy with the service's one view
        info.update(name=card.name, publictest_accuracy=card.accuracy("none"))
    model = EmotionModel(pred, class_names(args.labels, pred.num_classes), args.min_face, info)
    return create_app(model, args.max_bytes)


def main(argv: list[str]) -> int:
    args = parse(argv)
    if not 0 <= args.port <= 65535:
        raise CaffeError(f"--port {args.port}: expected 0..65535")
    app = build(args)
    import uvicorn

    print(f"serve: http://{args.host}:{args.port}/ (POST /predict, GET /health); Ctrl-C stops", flush=True)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    except OSError as e:
        raise CaffeError(f"cannot listen on {args.host}:{args.port}: {e.strerror}") from None
    return 0


if __name__ == "__main__":
    run(main, "serve")
