"""The library's version, recorded with every stored result."""
__version__ = "0.1.0"
