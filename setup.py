"""The package list, which pyproject.toml cannot compute: `import caffe` is fer_caffe_compat/pycaffe.

pycaffe's interface lives inside the package (the layout's top-level folders are fixed) and is installed
under Caffe's import name only, so that one module object serves `import caffe` everywhere.
"""
from setuptools import find_packages, setup

FRONT = "fer_caffe_compat.pycaffe"
packages = find_packages(include=["fer_caffe_compat*"])
caffe = ["caffe" + p[len(FRONT):] for p in packages if p == FRONT or p.startswith(FRONT + ".")]
setup(packages=[p for p in packages if not p.startswith(FRONT)] + caffe,
      package_dir={"caffe": FRONT.replace(".", "/")})
