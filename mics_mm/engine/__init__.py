from . import fileio, hooks, optimizers, runner, wrappers  # noqa: F401
