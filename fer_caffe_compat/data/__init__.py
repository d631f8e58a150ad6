"""The data stage: FER CSVs, image trees, index files, convert_imageset, compute_image_mean, the
data transformer and the datasets behind the data layers, and the embedded demo dataset."""
