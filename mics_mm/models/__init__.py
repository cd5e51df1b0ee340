from . import backbones, heads, necks, selfsup  # noqa: F401

__all__ = []
