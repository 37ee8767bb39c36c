"""Datasets: the synthetic default, torchvision sets and the user's image folders.

Kept import-light on purpose (a project file's dataset section is validated through
``config``): import what you need from the modules —
``base`` (LoadedDataset, DatasetError, load_dataset, check_compatibility,
default_data_dir), ``registry`` (DATASETS, DatasetSpec), ``augment``
(make_augmentation, make_v2_transform), ``shapes``, ``image_folder``,
``torchvision_sets``.
"""
