"""Helpers below every other layer of the package (no registered modules)."""
from .non_finite import guarded, non_finite_terms, stop_if_non_finite

__all__ = ['guarded', 'non_finite_terms', 'stop_if_non_finite']
