"""Compatibility fixes for the pinned OpenMMLab stack (filled in by issue 2)."""
