from .multimodal import MicsMultiModalClassifier

__all__ = ['MicsMultiModalClassifier']
