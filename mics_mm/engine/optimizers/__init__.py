from .multi_optim_constructor import MicsMultiOptimWrapperConstructor

__all__ = ['MicsMultiOptimWrapperConstructor']
