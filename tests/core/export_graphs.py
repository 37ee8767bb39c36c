"""Projects for the export tests: every template and one graph using every layer kind."""

from __future__ import annotations

from visionstudio.core.project import document_from_dict

_NODES = [
    ("inp", "input", {"channels": 3, "height": 16, "width": 16}),
    ("c1", "conv2d", {"out_channels": 8, "kernel_size": 3, "padding": "same", "activation": "relu"}),
    ("c2", "conv2d", {"out_channels": 8, "kernel_size": [3, 1], "padding": [1, 0], "groups": 2,
                      "activation": "leaky_relu"}),
    ("c3", "conv2d", {"out_channels": 8, "kernel_size": 3, "dilation": 2, "padding": 2,
                      "bias": False, "activation": "elu"}),
    ("add1", "add", {}),
    ("c4", "conv2d", {"out_channels": 8, "kernel_size": 1, "padding": "valid", "activation": "gelu"}),
    ("avg1", "average", {}),
    ("c5", "conv2d", {"out_channels": 8, "kernel_size": 1, "activation": "sigmoid"}),
    ("c6", "conv2d", {"out_channels": 8, "kernel_size": 1, "activation": "tanh"}),
    ("ws1", "weighted_sum", {"weights": [0.3, 0.7], "learnable": False}),
    ("ws2", "weighted_sum", {"weights": [], "learnable": True}),
    ("bn1", "batchnorm2d", {"eps": 1e-3, "momentum": 0.2}),
    ("r1", "relu", {}),
    ("lr1", "leaky_relu", {"negative_slope": 0.2}),
    ("e1", "elu", {"alpha": 0.5}),
    ("g1", "gelu", {}),
    ("t1", "tanh", {}),
    ("s1", "sigmoid", {}),
    ("p1", "maxpool2d", {"kernel_size": 2, "stride": None}),
    ("p2", "avgpool2d", {"kernel_size": 2, "stride": None}),
    ("cat1", "concat", {}),
    ("c7", "conv2d", {"out_channels": 16, "kernel_size": [2, 3], "stride": [2, 1], "padding": [0, 1]}),
    ("p3", "maxpool2d", {"kernel_size": 3, "stride": 1, "padding": 1, "ceil_mode": True}),
    # resize kinds (16×4×8 -> 16×6×10): transposed conv, adaptive pools, upsample, padding
    ("ct1", "conv_transpose2d", {"out_channels": 16, "kernel_size": 3, "stride": 2, "padding": 1,
                                 "output_padding": 1, "groups": 2, "bias": False}),
    ("am1", "adaptive_maxpool2d", {"output_size": [3, 5]}),
    ("up1", "upsample", {"scale_factor": 1.5, "mode": "bilinear", "align_corners": True}),
    ("up2", "upsample", {"by": "size", "size": [8, 16]}),
    ("aa1", "adaptive_avgpool2d", {"output_size": [4, 8]}),
    ("zp1", "zeropad2d", {"left": 0, "right": 2, "top": 1, "bottom": 1}),
    ("mp4", "maxpool2d", {"kernel_size": 2, "stride": 1, "padding": 1, "dilation": 2}),
    ("bn2", "batchnorm2d", {"affine": False}),
    # pointwise kinds on 16×6×10; mul1 gates with a 16×1×1 branch (squeeze-and-excitation's broadcast)
    ("gn1", "groupnorm", {"num_groups": 4, "eps": 1e-4}),
    ("ln1", "layernorm", {"eps": 1e-6}),
    ("in1", "instancenorm2d", {"affine": True, "track_running_stats": True}),
    ("dd1", "dropout2d", {"p": 0.2}),
    ("id1", "identity", {}),
    ("r6", "relu6", {}),
    ("si1", "silu", {}),
    ("hw1", "hardswish", {}),
    ("mi1", "mish", {}),
    ("pr1", "prelu", {"per_channel": True, "init": 0.1}),
    ("sp1", "softplus", {"beta": 2.0, "threshold": 10.0}),
    ("ls1", "log_softmax", {}),
    ("aa2", "adaptive_avgpool2d", {"output_size": 1}),
    ("hs1", "hardsigmoid", {}),
    ("mul1", "multiply", {}),
    ("max1", "maximum", {}),
    ("gap1", "global_avgpool", {}),
    ("fl", "flatten", {}),
    ("d1", "dense", {"units": 16, "activation": "relu"}),
    ("cat2", "concat", {}),
    ("dr", "dropout", {"p": 0.3}),
    ("d2", "dense", {"units": 10, "bias": False}),
    ("sm", "softmax", {}),
]
_EDGES = [
    ("p3", "ct1"), ("ct1", "am1"), ("am1", "up1"), ("up1", "up2"), ("up2", "aa1"), ("aa1", "zp1"),
    ("zp1", "mp4"), ("mp4", "bn2"),
    ("bn2", "gn1"), ("gn1", "ln1"), ("ln1", "in1"), ("in1", "dd1"), ("dd1", "id1"), ("id1", "r6"),
    ("r6", "si1"), ("si1", "hw1"), ("hw1", "mi1"), ("mi1", "pr1"), ("pr1", "sp1"), ("sp1", "ls1"),
    ("sp1", "aa2"), ("aa2", "hs1"), ("ls1", "mul1", 0), ("hs1", "mul1", 1),
    ("mul1", "max1", 0), ("sp1", "max1", 1), ("max1", "gap1"),
    ("inp", "c1"), ("c1", "c2"), ("c1", "c3"), ("c2", "add1", 0), ("c3", "add1", 1),
    ("c1", "c4"), ("add1", "avg1", 0), ("c4", "avg1", 1), ("c1", "c5"), ("c1", "c6"),
    ("c5", "ws1", 0), ("c6", "ws1", 1), ("avg1", "ws2", 0), ("ws1", "ws2", 1), ("ws2", "bn1"),
    ("bn1", "r1"), ("r1", "lr1"), ("lr1", "e1"), ("e1", "g1"), ("g1", "t1"), ("t1", "s1"),
    ("s1", "p1"), ("s1", "p2"), ("p1", "cat1", 0), ("p2", "cat1", 1), ("cat1", "c7"),
    ("c7", "p3"), ("cat1", "fl"), ("fl", "d1"),
    ("gap1", "cat2", 0), ("d1", "cat2", 1), ("cat2", "dr"), ("dr", "d2"), ("d2", "sm"),
]


def every_kind_project(name: str = "Every kind"):
    nodes = [{"id": f"id_{n}", "kind": k, "name": n, "params": p} for n, k, p in _NODES]
    edges = [{"src": f"id_{e[0]}", "dst": f"id_{e[1]}", "port": e[2] if len(e) > 2 else 0}
             for e in _EDGES]
    return document_from_dict({"name": name, "graph": {"nodes": nodes, "edges": edges}})


def template_projects():
    from visionstudio.core.templates import TEMPLATES, load_template

    return [(t.key, load_template(t.key)) for t in TEMPLATES]
