"""Training curves from glog logs: Caffe's parse_log tables and their plots."""
