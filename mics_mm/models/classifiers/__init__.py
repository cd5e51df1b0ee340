from .multimodal import MICSMultiModalClassifier

__all__ = ['MICSMultiModalClassifier']
