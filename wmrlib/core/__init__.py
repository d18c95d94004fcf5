"""The foundation every layer may use: input checks with one clear error, the stable hash behind
every store key, the repository's paths, the dataset registry and the version. It imports
nothing of wmrlib.
"""

__all__ = ["checks", "datasets", "keys", "paths", "version"]
