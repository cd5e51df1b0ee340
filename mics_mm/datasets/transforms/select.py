"""Reduce a multimodal sample to one modality (single-modality baselines)."""
from mmcv.transforms import BaseTransform

from mmpretrain.registry import TRANSFORMS


@TRANSFORMS.register_module()
class MicsSelectModality(BaseTransform):
    """Keep one modality as a plain image for mmpretrain's own models.

    After it, ``results['img']`` is that modality's array, so mmpretrain's
    ``PackInputs`` and ``ImageClassifier`` work unchanged (e.g. the WLI-only
    baseline that loads a MICS encoder).

    Required Keys:

    - img (dict modality -> ndarray)

    Modified Keys:

    - img (ndarray)
    - img_path (str)

    Args:
        modality (str): The modality to keep. Defaults to 'wli'.
    """

    def __init__(self, modality: str = 'wli') -> None:
        self.modality = modality

    def transform(self, results: dict) -> dict:
        images = results['img']
        if self.modality not in images:
            raise KeyError(
                f'MicsSelectModality: sample {results.get("img_path")} has no '
                f'{self.modality!r} image (has {sorted(images)}); add '
                'MicsSimulatedNBI before it for a simulated NBI view.')
        results['img'] = images[self.modality]
        path = results.get('img_path')
        if isinstance(path, dict):
            results['img_path'] = path.get(self.modality, '')
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(modality={self.modality!r})'
