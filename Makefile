# Caffe's FER workflow on PyTorch. `make demo` runs it end to end on the embedded synthetic dataset;
# `make test` runs the tests. Every target that needs Python creates .venv on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_SYS ?= python3
VENV       := .venv
PY         := $(VENV)/bin/python
STAMP      := $(VENV)/.installed

# Data stage: make lmdb CSV=path/to/fer2013.csv[.gz]  ->  data/<name>/
CSV        ?= data/demo/demo.csv
NAME       ?= $(patsubst %.csv,%,$(patsubst %.gz,%,$(notdir $(CSV))))
DATA       ?= data/$(NAME)
IMAGES     := $(DATA)/images
# Training: make train SOLVER=solvers/lenet_solver.prototxt
SOLVER     ?= solvers/lenet_solver.prototxt
GPU        ?= cpu
LOG        ?= logs/lenet.log
# Evaluation: make evaluate [WEIGHTS=snapshots/lenet_iter_N.caffemodel] [MODEL=...] [EVAL_FLAGS=...]
# MODEL is the train/val prototxt, so its TEST data layer's scale and crop preprocess the images, with the
# mean of $(DATA); a deploy prototxt works too with EVAL_FLAGS="--scale 0.00390625". WEIGHTS: the newest snapshot.
MODEL      ?= $(if $(filter demo,$(NAME)),nets/lenet_demo_train_test.prototxt,nets/lenet_train_test.prototxt)
WEIGHTS    ?= $(shell ls -t snapshots/*.caffemodel 2>/dev/null | head -n 1)
EVAL_DB    ?= $(DATA)/val_lmdb
EVAL_FLAGS ?=
PYTEST_ARGS ?=

.PHONY: help setup system-deps proto test demo demo-data images index convert lmdb mean train plot evaluate \
        bench bench-data clean recipe crashtest class-weights zoo-results baseline-results test-e2e serve \
        check-pretrained

help:
	@echo "make demo        the whole workflow on the embedded synthetic FER dataset (no download)"
	@echo "make test        the test suite"
	@echo "make test-e2e    end-to-end checks: big nets' ONNX/.pt2 parity, the web page in chromium, a load test"
	@echo "make serve       the emotion service and its web page on the shipped FER model (DEMO=1: the demo model)"
	@echo "make check-pretrained CSV=fer2013.csv   score nets/pretrained again on PublicTest, compare with its card"
	@echo "make lmdb CSV=fer2013.csv   images, index files, LMDBs and mean.binaryproto in data/<name>/"
	@echo "make train SOLVER=solvers/alexnet_gamma0.95_solver.prototxt"
	@echo "make plot LOG=logs/x.log    training curves as PNG"
	@echo "make evaluate MODEL=... WEIGHTS=...   accuracy, report, confusion and ROC PNGs"
	@echo "make bench, make bench-data  benchmarks"
	@echo "make recipe CSV=fer2013.csv   the FER CPU-hour recipe: LMDBs, training, curves, PublicTest with TTA"
	@echo "make zoo-results  train the 48x48 nets/zoo models for their budgets, PublicTest rows in docs/zoo.md"
	@echo "make baseline-results CSV=fer2013.csv   PCA/LBP/HOG x SVC/RF/GBM baselines, rows in docs/zoo.md"
	@echo "make crashtest   kill -9 a training run 30 times; every newest snapshot must load and resume"

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON_SYS) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

# Debian tools the plots and graphs need (gnuplot-nox for plot_log.gnuplot, graphviz for draw_net).
system-deps:
	@missing=""; command -v gnuplot >/dev/null || missing="$$missing gnuplot-nox"; \
	 command -v dot >/dev/null || missing="$$missing graphviz"; \
	 if [ -n "$$missing" ]; then \
	   if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	   else echo "please install:$$missing (apt-get install$$missing)"; fi; fi

proto: $(STAMP)
	cd fer_caffe_compat/proto && ../../$(PY) -m grpc_tools.protoc -I. --python_out=. caffe.proto

# One torch thread per pytest worker by default: two workers on a 2-core machine, and small ops slow down
# badly when torch's thread pools oversubscribe the cores. OMP_NUM_THREADS=2 make test runs with two (the
# suite passes with any count).
OMP_NUM_THREADS ?= 1
test: $(STAMP) system-deps
	OMP_NUM_THREADS=$(OMP_NUM_THREADS) $(PY) -m pytest -n 2 $(PYTEST_ARGS)

# The end-to-end checks (pytest -m e2e; CI runs them after make test): ImageNet-size deploy nets exported
# to ONNX and .pt2 and compared, the service's page in headless chromium, 200 requests from 8 clients.
# Installs Debian's chromium and chromium-driver when run as root. -rP prints each check's numbers.
test-e2e: $(STAMP) system-deps
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "please install: chromium chromium-driver (apt-get install chromium chromium-driver)"; fi; }
	OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 -m e2e -rP --show-capture=stdout $(PYTEST_ARGS)

# The crash harness at length (make test runs 3 kills): SIGKILL a real training run 30 times, at random log
# lines and inside snapshot writes; every newest snapshot must load and resume. KILLS=100 for more.
KILLS ?= 30
crashtest: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m tests.cli.crash_harness --kills $(KILLS)

# ---------------------------------------------------------------- data stage
# OVERWRITE=1 replaces existing outputs (by default they are refused, as convert_imageset does).
OVERWRITE_FLAG := $(if $(OVERWRITE),--overwrite)

demo-data: $(STAMP)
	$(PY) -m fer_caffe_compat.cli.make_demo_csv --out data/demo/demo.csv --preview data/demo/faces.png

data/demo/demo.csv: | $(STAMP)
	$(PY) -m fer_caffe_compat.cli.make_demo_csv --out $@

images: $(STAMP) $(CSV)
	tools/csv_to_images --csv $(CSV) --out $(IMAGES) $(OVERWRITE_FLAG)

index: $(STAMP)
	data_prepare/create_aux.sh $(IMAGES) $(DATA)

lmdb: $(STAMP) $(CSV)
	data_prepare/make_lmdb.sh $(CSV) $(DATA) $(OVERWRITE_FLAG)

# the step-by-step route: make images index convert mean (make lmdb does all four in one pass)
convert: $(STAMP)
	@set -e; for s in train val test; do if [ -f $(DATA)/$$s.txt ]; then \
	  echo tools/convert_imageset --gray $(IMAGES)/$$s/ $(DATA)/$$s.txt $(DATA)/$${s}_lmdb $(OVERWRITE_FLAG); \
	  tools/convert_imageset --gray $(IMAGES)/$$s/ $(DATA)/$$s.txt $(DATA)/$${s}_lmdb $(OVERWRITE_FLAG); fi; done

mean: $(STAMP)
	data_prepare/make_mean.sh $(DATA)/train_lmdb $(DATA)/mean.binaryproto

bench-data: $(STAMP)
	$(PY) -m fer_caffe_compat.cli.bench_data --csv $(or $(BENCH_CSV),../shared/data/fer2013_dev.csv.gz)

# ---------------------------------------------------------------- training
train: $(STAMP)
	@mkdir -p logs snapshots
	tools/train --solver $(SOLVER) --gpu $(GPU) --log $(LOG)

# PNG curves of a training log (ours or Caffe's) in <LOG without .log>_curves/ (gnuplot/ and matplotlib);
# several logs overlaid: tools/plot_training_log a.log b.log --out DIR
plot: $(STAMP) system-deps
	tools/plot_log.sh $(LOG)

# ---------------------------------------------------------------- evaluation
evaluate: $(STAMP)
	@test -n "$(WEIGHTS)" || { echo "make evaluate: no snapshot in snapshots/; give WEIGHTS=..."; exit 2; }
	tools/evaluate --model $(MODEL) --weights $(WEIGHTS) --db $(EVAL_DB) \
	  $(if $(wildcard $(DATA)/mean.binaryproto),--mean $(DATA)/mean.binaryproto) $(EVAL_FLAGS)

# One table (also logs/bench.json): tools/train on data/fer2013 against a frozen batch, plain PyTorch and, with
# CAFFE_BIN=path/to/caffe, Caffe; the data path; make lmdb; fp32/bf16 x NCHW/channels_last. A few minutes.
bench: $(STAMP)
	$(PY) -m fer_caffe_compat.cli.bench --data $(or $(BENCH_DATA),data/fer2013) \
	  --csv $(or $(BENCH_CSV),../shared/data/fer2013_dev.csv.gz) $(if $(CAFFE_BIN),--caffe $(CAFFE_BIN))

demo: $(STAMP) system-deps
	bash data_prepare/demo.sh

# The emotion service (tools/serve) on the shipped FER model (nets/pretrained): http://127.0.0.1:$(PORT)/ is the
# page, POST /predict the API. make serve DEMO=1 serves the LeNet that make demo trained instead.
PORT ?= 8000
serve: $(STAMP)
	tools/serve $(if $(DEMO),--demo) --port $(PORT)

# The shipped model scored again on the whole PublicTest split of CSV, for each TTA mode of its card
# (nets/pretrained/README.md); exit 1 when a number differs from the card.
check-pretrained: $(STAMP)
	@test -n "$(filter command line environment,$(origin CSV))" || { echo "make check-pretrained: give CSV=path/to/fer2013.csv"; exit 2; }
	tools/check_pretrained --csv $(CSV)

# The FER CPU-hour recipe from the CSV: LMDBs when missing, training, curves, PublicTest with and without
# test-time augmentation. RECIPE_SOLVER=solvers/fer_gpu_solver.prototxt for the GPU variant.
RECIPE_SOLVER ?= solvers/fer_cpu_hour_solver.prototxt
recipe: $(STAMP) system-deps
	bash data_prepare/recipe.sh $(CSV) $(RECIPE_SOLVER)

# ---------------------------------------------------------------- model zoo (nets/zoo) and classic baselines
# InfogainLoss H matrix of Keras' "balanced" class weights for nets/zoo/cnn2x2_weighted.
class-weights: $(STAMP)
	tools/class_weights --db $(DATA)/train_lmdb $(OVERWRITE_FLAG)

# Train each 48x48 zoo model for its budget (fer_caffe_compat/cli/zoo_results.py BUDGETS), one at a time, score
# it on PublicTest and write nets/zoo/results.json and the Model zoo tables of docs/zoo.md. Models already done are
# skipped (FORCE=1 trains them again); ZOO_MODELS=mlp,cnn2x2 picks some; ZOO_PRECISION=float32 for no autocast.
# One torch thread: on the shared 2-core machine the results come from, two threads ran slower.
ZOO_PRECISION ?= bf16
ZOO_THREADS ?= 1
zoo-results: $(STAMP)
	OMP_NUM_THREADS=$(ZOO_THREADS) $(PY) -m fer_caffe_compat.cli.zoo_results --precision $(ZOO_PRECISION) \
	  $(if $(ZOO_MODELS),--models $(ZOO_MODELS)) $(if $(FORCE),--force)

# Every features x model combination of tools/baseline on CSV (each within 10 minutes on 2 cores), then the
# baseline table of docs/zoo.md. One OpenMP thread, as for zoo-results: on a shared machine two spin and stall.
baseline-results: $(STAMP) $(CSV)
	@set -e; export OMP_NUM_THREADS=$(ZOO_THREADS); mkdir -p logs/baseline; for f in pca lbp hog; do for m in svc rf gbm; do \
	  echo tools/baseline --csv $(CSV) --features $$f --model $$m --out logs/baseline/$${f}_$$m; \
	  tools/baseline --csv $(CSV) --features $$f --model $$m --out logs/baseline/$${f}_$$m --no-progress \
	    > logs/baseline/$${f}_$$m.txt 2>&1 || { tail -n 3 logs/baseline/$${f}_$$m.txt; exit 1; }; \
	  head -n 3 logs/baseline/$${f}_$$m.txt; done; done
	$(PY) -m fer_caffe_compat.cli.zoo_results --tables-only

clean:
	rm -rf data/demo logs snapshots demo
