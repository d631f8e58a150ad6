"""The data stage: FER CSVs, image trees, index files, convert_imageset, compute_image_mean, the
data transformer (per image and batched) and what the data layers read (records, batches, the prefetch
thread), and the embedded demo dataset."""
