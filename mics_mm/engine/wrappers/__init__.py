from .distributed import MicsDistributedDataParallel

__all__ = ['MicsDistributedDataParallel']
