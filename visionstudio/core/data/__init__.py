"""Datasets: the synthetic default, torchvision sets and the user's image folders.

Kept import-light on purpose (a project file's dataset section is validated through
``config``): import what you need from the modules —
``base`` (LoadedDataset, DatasetInfo, DatasetError, default_data_dir), ``registry``
(DATASETS, DatasetSpec, load_dataset, describe_dataset), ``compat``
(check_compatibility), ``augment``
(make_augmentation, make_v2_transform), ``shapes``, ``image_folder``,
``torchvision_sets``.
"""
