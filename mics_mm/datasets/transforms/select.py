"""Hand a multimodal sample to mmpretrain's own models: one modality as a
plain image, or the modalities as the views of a multi-view sample."""
from mmcv.transforms import BaseTransform

from mics_mm.registry import TRANSFORMS


@TRANSFORMS.register_module()
class SelectModality(BaseTransform):
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
                f'SelectModality: sample {results.get("img_path")} has no '
                f'{self.modality!r} image (has {sorted(images)}); add '
                'SimulatedNBI before it for a simulated NBI view.')
        results['img'] = images[self.modality]
        path = results.get('img_path')
        if isinstance(path, dict):
            results['img_path'] = path.get(self.modality, '')
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(modality={self.modality!r})'


@TRANSFORMS.register_module()
class ModalitiesAsViews(BaseTransform):
    """Turn the modalities of a sample into the views of a multi-view
    sample for mmpretrain's contrastive algorithms.

    MICS treats one modality as an augmented view of the other
    (docs/methods.md, "MICS"). With this transform mmpretrain's own SimCLR, MoCo v3 and BYOL see
    the same pairs: after it, ``results['img']`` is the list of the
    modalities' arrays (what ``MultiView`` produces), so mmpretrain's
    ``PackInputs`` packs ``inputs`` as one tensor per view and the
    algorithms run unchanged. Used by the baselines in
    ``configs/baselines/`` that pair WLI with (simulated) NBI.

    Required Keys:

    - img (dict modality -> ndarray)

    Modified Keys:

    - img (list[ndarray]): the views, in ``modalities`` order.

    Args:
        modalities (Sequence[str]): The modalities to use as views.
            Defaults to ('wli', 'nbi').
    """

    def __init__(self, modalities=('wli', 'nbi')) -> None:
        self.modalities = tuple(modalities)
        if len(self.modalities) < 2:
            raise ValueError('ModalitiesAsViews: needs at least two '
                             f'modalities, got {self.modalities}')

    def transform(self, results: dict) -> dict:
        images = results['img']
        missing = [m for m in self.modalities if m not in images]
        if missing:
            raise KeyError(
                f'ModalitiesAsViews: sample {results.get("img_path")} '
                f'lacks {missing} (has {sorted(images)}); add '
                'SimulatedNBI before it for a simulated NBI view.')
        results['img'] = [images[m] for m in self.modalities]
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(modalities={self.modalities})'
