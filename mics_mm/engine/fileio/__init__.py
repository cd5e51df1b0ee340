from .atomic_local_backend import ATOMIC_LOCAL, AtomicLocalBackend

__all__ = ['ATOMIC_LOCAL', 'AtomicLocalBackend']
