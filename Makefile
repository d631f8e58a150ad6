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
        bench bench-data clean

help:
	@echo "make demo        the whole workflow on the embedded synthetic FER dataset (no download)"
	@echo "make test        the test suite"
	@echo "make lmdb CSV=fer2013.csv   images, index files, LMDBs and mean.binaryproto in data/<name>/"
	@echo "make train SOLVER=solvers/alexnet_gamma0.95_solver.prototxt"
	@echo "make plot LOG=logs/x.log    training curves as PNG"
	@echo "make evaluate MODEL=... WEIGHTS=...   accuracy, report, confusion and ROC PNGs"
	@echo "make bench, make bench-data  benchmarks"

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

# One torch thread per pytest worker: two workers on a 2-core machine, and small ops slow down badly when
# torch's thread pools oversubscribe the cores.
test: $(STAMP) system-deps
	OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 $(PYTEST_ARGS)

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

bench: $(STAMP)
	$(PY) -m fer_caffe_compat.cli.bench

demo: $(STAMP) system-deps
	bash data_prepare/demo.sh

clean:
	rm -rf data/demo logs snapshots demo
