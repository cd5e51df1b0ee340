from .multi_optim_constructor import PartwiseOptimWrapperConstructor

__all__ = ['PartwiseOptimWrapperConstructor']
