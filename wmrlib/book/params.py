"""Notebook (papermill) parameters: the names the chapters accept and their checks.

A chapter calls :func:`check_notebook_parameters` (or builds a :class:`wmrlib.book.Page`) right
after its parameters cell, so a wrong value stops it there, before any result is read or written.
"""
from __future__ import annotations

import os

from ..analysis.results import check_device
from ..core.checks import check_choice, check_int, check_number
from ..experiment.profiles import PROFILES

# name -> what the notebooks accept for it (every notebook's parameters cell uses a subset)
NOTEBOOK_PARAMETERS = {
    "profile": "a profile name", "fallback_profile": "a profile name or None",
    "results": "a path", "data_root": "a path or None", "device": "a device name or 'auto'",
    "readonly": "True or False", "progress": "True or False", "download": "True or False",
    "n_train": "an integer ≥ 1", "epochs": "an integer ≥ 1", "n_test": "an integer ≥ 1",
    "alpha_train": "a number ≥ 0",
}


def check_notebook_parameters(**params) -> dict:
    """Check a notebook's (papermill) parameters; return them, or raise TypeError / ValueError.

    papermill's ``-p name value`` turns ``True``/``False``/``None`` and numbers into Python values
    and leaves anything else a string, so ``-p readonly yes`` arrives as the (truthy) string
    ``'yes'`` and ``-p profile 123`` as the integer 123. A notebook calls this right after its
    parameters cell, so a wrong type stops it there, before any result is read or written.
    """
    def wrong(name, value, fix):
        return TypeError(f"notebook parameter {name} must be {NOTEBOOK_PARAMETERS[name]}, got "
                         f"{type(value).__name__} ({value!r}); {fix}")

    for name, value in params.items():
        if name not in NOTEBOOK_PARAMETERS:
            raise TypeError(f"unknown notebook parameter {name!r}; known: "
                            f"{', '.join(sorted(NOTEBOOK_PARAMETERS))}")
        if name in ("readonly", "progress", "download"):
            if not isinstance(value, bool):
                raise wrong(name, value, f"pass `-p {name} True` or `-p {name} False` to papermill")
        elif name in ("profile", "fallback_profile"):
            if value is None and name == "fallback_profile":
                continue
            if not isinstance(value, str):
                raise wrong(name, value, f"pass one of {', '.join(PROFILES)}, e.g. `-p {name} cpu`")
            check_choice(name, value, PROFILES)
        elif name in ("results", "data_root"):
            if value is None and name == "data_root":
                continue
            if not isinstance(value, (str, os.PathLike)):
                raise wrong(name, value, f"pass a folder, e.g. `-p {name} ../results`")
        elif name == "device":
            if not isinstance(value, str):
                raise wrong(name, value, "pass e.g. `-p device cpu` or `-p device auto`")
            check_device(value)
        elif name == "alpha_train":
            check_number(name, value)
        else:
            check_int(name, value, low=1)
    return params
