from .distributed import MultiForwardDistributedDataParallel

__all__ = ['MultiForwardDistributedDataParallel']
