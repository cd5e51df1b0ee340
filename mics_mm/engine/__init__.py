from . import hooks, optimizers, wrappers  # noqa: F401

__all__ = []
