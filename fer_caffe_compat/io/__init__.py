"""Caffe's files: LMDB of Datum, BlobProto / mean files, .caffemodel and .solverstate."""
