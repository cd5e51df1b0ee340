"""A small BraTS-layout brain MRI set built from real images that ship with
packages (no download): the demo and test data of BrainMVP.

Sources (docs/data.md, "Real images available offline"):

- **MNI ICBM152 2009a** (nilearn's package data, BSD-3): a real T1 template
  (skull-stripped) with grey- and white-matter probability maps, 1 mm,
  197 x 233 x 189. Tissue labels are derived from the maps: inside the brain
  (T1 > 0), CSF probability ``1 - GM - WM``, label = argmax of (CSF, GM, WM),
  giving 0 background, 1 CSF, 2 grey matter, 3 white matter.
- **BrainWeb T1 / PD slice pair** (Debian ``insighttoolkit5-examples``,
  Apache-2.0; optional): the same axial slice in two contrasts, images of
  the BrainWeb MRI simulator, 181 x 217 at 1 mm, on a grid 8 mm inside the
  MNI canvas; placed on the canvas at the axial level that correlates best
  with the MNI T1.

What is made of them, and how honest each part is:

- ``sub000``: the MNI T1 itself (resampled by block averaging), and labels.
- ``sub001`` ...: **derived** subjects, the template warped by a random
  smooth deformation and a small affine transform, with a random bias
  field and noise: one real anatomy seen in several shapes, not several
  real subjects.
- ``t2``, ``pd``, ``flair`` of every subject are **simulated** contrasts:
  a partial-volume mix of the tissue maps with per-contrast tissue
  intensities (:data:`SIMULATED_CONTRASTS`), blurred, with noise. Only
  ``t1`` (and the BrainWeb pair) are MR images.
- The simulated contrasts are made from the same maps as the labels, so
  the segmentation splits give the downstream model the T1 only: the other
  channels are missing there and BrainMVP's templates stand in for them.

Everything is written in the layouts :class:`BrainMRIDataset` reads:
``<out>/<case>/<case>_<modality>.nii.gz`` (+ ``_seg``), JSON manifests
``pretrain.json``, ``seg_train.json``, ``seg_val.json``, ``seg_test.json``,
and a ``README.txt`` / ``provenance.json`` saying all of the above.
"""
import importlib.util
import json
import os
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import nibabel as nib
import numpy as np
import torch
import torch.nn.functional as F

from ..structures import TISSUE_CLASSES

__all__ = [
    'TISSUE_CLASSES', 'SIMULATED_CONTRASTS', 'MNI152_FILES',
    'find_mni152', 'find_brainweb_pair', 'load_mni152', 'tissue_labels',
    'simulate_contrast', 'make_brain_demo'
]


#: Relative (CSF, GM, WM) intensities of the simulated contrasts: T2- and
#: PD-weighted CSF is bright, FLAIR suppresses it; grey matter is brighter
#: than white matter in all three (the usual appearance at 1.5-3 T).
SIMULATED_CONTRASTS: Dict[str, Tuple[float, float, float]] = {
    't2': (1.0, 0.55, 0.4),
    'pd': (0.9, 0.8, 0.65),
    'flair': (0.1, 0.7, 0.5),
}

#: nilearn's MNI152 2009a files (inside ``nilearn/datasets/data``).
MNI152_FILES = {
    't1': 'mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz',
    'gm': 'mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz',
    'wm': 'mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz',
}

#: Where Debian's insighttoolkit5-examples puts its data.
ITK_DATA_DIR = '/usr/share/doc/insighttoolkit5-examples/examples/Data'
BRAINWEB_FILES = {'t1': 'BrainT1Slice.png', 'pd': 'BrainProtonDensitySlice.png'}
#: The BrainWeb grid starts 8 mm inside the MNI 2009a canvas along x and y.
BRAINWEB_OFFSET_MM = (8, 8)

_ERR = 'make_brain_demo: '


def find_mni152(mni_dir: Optional[str] = None) -> Dict[str, str]:
    """Paths of the MNI152 T1 / GM / WM files.

    Args:
        mni_dir (str, optional): Folder holding them; default: the data
            folder of the installed ``nilearn`` package (found without
            importing it).

    Returns:
        dict: ``{'t1': path, 'gm': path, 'wm': path}``.
    """
    if mni_dir is None:
        spec = importlib.util.find_spec('nilearn')
        if spec is None or spec.origin is None:
            raise FileNotFoundError(
                f'{_ERR}the MNI152 template ships with nilearn, which is not '
                'installed; run `pip install --no-deps nilearn==0.14.1` (only '
                'its data files are used) or pass --mni-dir.')
        mni_dir = osp.join(osp.dirname(spec.origin), 'datasets', 'data')
    paths = {k: osp.join(mni_dir, v) for k, v in MNI152_FILES.items()}
    missing = [p for p in paths.values() if not osp.isfile(p)]
    if missing:
        raise FileNotFoundError(f'{_ERR}missing {missing}; reinstall nilearn '
                                'or point --mni-dir at the files.')
    return paths


def find_brainweb_pair(itk_dir: Optional[str] = ITK_DATA_DIR
                       ) -> Optional[Dict[str, str]]:
    """The BrainWeb T1 / PD PNGs of ITK's examples, or None if absent."""
    if not itk_dir:
        return None
    paths = {k: osp.join(itk_dir, v) for k, v in BRAINWEB_FILES.items()}
    return paths if all(osp.isfile(p) for p in paths.values()) else None


def _block_mean(vol: np.ndarray, factor: int) -> np.ndarray:
    """Downsample every axis by averaging ``factor``-wide blocks (a partial
    block at the end of an axis is dropped)."""
    if factor == 1:
        return vol.astype(np.float32)
    shape = [s // factor for s in vol.shape]
    vol = vol[tuple(slice(0, s * factor) for s in shape)]
    split = [d for s in shape for d in (s, factor)]
    axes = tuple(range(1, 2 * len(shape), 2))
    return vol.reshape(split).mean(axis=axes).astype(np.float32)


#: Candidate layouts of a (rows=A-P, cols=L-R) PNG as an (X, Y) array.
_LAYOUTS = {
    'T': lambda a: a.T,
    'T_flip_y': lambda a: a.T[:, ::-1],
    'T_flip_x': lambda a: a.T[::-1],
    'T_flip_xy': lambda a: a.T[::-1, ::-1],
}


def load_mni152(paths: Dict[str, str],
                factor: int = 2) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The T1, tissue probabilities and the affine at ``factor`` mm.

    Returns:
        tuple: ``t1`` ``(X, Y, Z)`` in [0, 1], ``probs`` ``(3, X, Y, Z)``
        (CSF, GM, WM; zero outside the brain) and the 4x4 affine.
    """
    images = {k: nib.as_closest_canonical(nib.load(p)) for k, p in
              paths.items()}
    vols = {
        k: np.asarray(img.dataobj, dtype=np.float32) / 255.0
        for k, img in images.items()
    }
    brain = (vols['t1'] > 0).astype(np.float32)
    gm = np.clip(vols['gm'], 0, 1) * brain
    wm = np.clip(vols['wm'], 0, 1) * brain
    csf = np.clip(1 - gm - wm, 0, 1) * brain
    probs = np.stack([_block_mean(v, factor) for v in (csf, gm, wm)])
    t1 = _block_mean(vols['t1'], factor)
    affine = images['t1'].affine.copy()
    affine[:3, :3] *= factor
    return t1, probs, affine


def tissue_labels(probs: np.ndarray, brain: np.ndarray) -> np.ndarray:
    """0 outside ``brain``, else 1 + argmax of (CSF, GM, WM)."""
    return np.where(brain, 1 + probs.argmax(axis=0), 0).astype(np.uint8)


def _smooth_noise(shape: Sequence[int], rng: np.random.Generator,
                  control: int, channels: int = 1) -> torch.Tensor:
    """Smooth random field: normal noise on a coarse grid, trilinear up."""
    coarse = torch.from_numpy(
        rng.standard_normal((1, channels, control, control, control)).astype(
            np.float32))
    return F.interpolate(
        coarse, size=tuple(shape), mode='trilinear', align_corners=True)[0]


def _warp_grid(shape: Sequence[int], rng: np.random.Generator,
               amplitude: float, rotate_deg: float,
               scale: float) -> torch.Tensor:
    """Sampling grid ``(1, X, Y, Z, 3)`` of a random affine + smooth warp."""
    angle = np.deg2rad(rng.uniform(-rotate_deg, rotate_deg))
    zoom = 1 + rng.uniform(-scale, scale)
    cos, sin = np.cos(angle) / zoom, np.sin(angle) / zoom
    theta = torch.tensor([[[cos, -sin, 0, 0], [sin, cos, 0, 0],
                           [0, 0, 1 / zoom, 0]]], dtype=torch.float32)
    size = (1, 1, *shape)
    grid = F.affine_grid(theta, size, align_corners=True)
    # displacement in voxels -> normalised coordinates; grid's last axis is
    # (z, y, x) of the (D, H, W) = (X, Y, Z) volume, i.e. reversed axes.
    disp = _smooth_noise(shape, rng, control=5, channels=3) * amplitude
    norm = torch.tensor([2.0 / (s - 1) for s in shape[::-1]])
    grid = grid + disp.flip(0).permute(1, 2, 3, 0)[None] * norm
    return grid


def _warp(vol: np.ndarray, grid: torch.Tensor) -> np.ndarray:
    """Warp ``(C, X, Y, Z)`` (or ``(X, Y, Z)``) trilinearly, zeros outside."""
    x = torch.from_numpy(np.ascontiguousarray(vol, dtype=np.float32))
    squeeze = x.dim() == 3
    x = x[None, None] if squeeze else x[None]
    out = F.grid_sample(
        x, grid, mode='bilinear', padding_mode='zeros', align_corners=True)
    out = out[0, 0] if squeeze else out[0]
    return out.numpy()


def simulate_contrast(probs: np.ndarray,
                      weights: Sequence[float],
                      rng: np.random.Generator,
                      noise: float = 0.02,
                      blur: float = 0.6) -> np.ndarray:
    """A simulated MR contrast from tissue probability maps.

    ``I = sum_t p_t * w_t`` over (CSF, GM, WM) with the contrast's tissue
    intensities ``weights`` (each jittered by 5 % per subject), blurred
    with a Gaussian of ``blur`` voxels (partial volume / lower effective
    resolution), plus Gaussian noise of ``noise`` inside the brain; zero
    outside the brain.
    """
    from scipy.ndimage import gaussian_filter
    jitter = np.asarray(weights) * (1 + rng.uniform(-0.05, 0.05, 3))
    image = np.tensordot(jitter.astype(np.float32), probs, axes=1)
    if blur > 0:
        image = gaussian_filter(image, blur)
    brain = probs.sum(axis=0) > 0.5
    image = image + noise * rng.standard_normal(image.shape)
    return np.where(brain, np.clip(image, 0, None), 0).astype(np.float32)


def _brainweb_study(paths: Dict[str, str], t1: np.ndarray,
                    factor: int) -> Tuple[Dict[str, np.ndarray], dict]:
    """The BrainWeb slice pair as one-slice volumes on the MNI canvas."""
    import cv2
    slices = {}
    for mod, path in paths.items():
        img = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        if img is None:
            raise OSError(f'{_ERR}cannot read {path!r}')
        slices[mod] = img.astype(np.float32) / 255.0
    # The PNG's orientation is not recorded: every candidate layout is
    # scored against the MNI T1 at every axial level (correlation inside
    # the overlap) and the best (layout, level) is kept.
    ox, oy = (o // factor for o in BRAINWEB_OFFSET_MM)
    best = (-np.inf, None, None)
    for name, layout in _LAYOUTS.items():
        small = _block_mean(layout(slices['t1']), factor)
        sx = min(small.shape[0], t1.shape[0] - ox)
        sy = min(small.shape[1], t1.shape[1] - oy)
        a = small[:sx, :sy].ravel()
        for z in range(t1.shape[2]):
            b = t1[ox:ox + sx, oy:oy + sy, z].ravel()
            if b.std() == 0:
                continue
            score = float(np.corrcoef(a, b)[0, 1])
            if score > best[0]:
                best = (score, name, z)
    score, name, level = best
    volumes = {}
    for mod, img in slices.items():
        small = _block_mean(_LAYOUTS[name](img), factor)
        # The simulator's background is dark noise, not 0: zero it so the
        # foreground crop and percentile scaling see the head only.
        small = np.where(small > 0.08, small, 0).astype(np.float32)
        vol = np.zeros(t1.shape, np.float32)
        sx = min(small.shape[0], t1.shape[0] - ox)
        sy = min(small.shape[1], t1.shape[1] - oy)
        vol[ox:ox + sx, oy:oy + sy, level] = small[:sx, :sy]
        volumes[mod] = vol
    return volumes, dict(layout=name, axial_level=int(level),
                         correlation=round(score, 3))


def _save(vol: np.ndarray, affine: np.ndarray, path: str) -> None:
    nib.save(nib.Nifti1Image(vol, affine), path)


def make_brain_demo(out: str,
                    subjects: int = 10,
                    factor: int = 2,
                    seed: int = 0,
                    labelled: int = 2,
                    held_out: int = 2,
                    mni_dir: Optional[str] = None,
                    itk_dir: Optional[str] = ITK_DATA_DIR,
                    amplitude: float = 2.0) -> dict:
    """Write the demo set (see the module docstring) to ``out``.

    Subjects ``sub000 .. sub{subjects-1}``: the last ``held_out`` form the
    test split, the ``held_out`` before them the validation split (neither
    is pre-trained on); the first ``labelled`` are the labelled training
    split; every subject not held out is in ``pretrain.json`` with its four
    modalities, plus the BrainWeb study when ITK's examples are installed.

    Args:
        out (str): Output folder (must not hold a demo set already).
        subjects (int): Number of subjects. Defaults to 10.
        factor (int): Voxel size in mm (block-mean downsampling of the 1 mm
            template). Defaults to 2.
        seed (int): Random seed. Defaults to 0.
        labelled (int): Labelled training subjects. Defaults to 2.
        held_out (int): Subjects in each of val and test. Defaults to 2.
        mni_dir (str, optional): See :func:`find_mni152`.
        itk_dir (str, optional): ITK example data; None or missing skips
            the BrainWeb study.
        amplitude (float): Deformation amplitude in voxels. Defaults to 2.

    Returns:
        dict: The provenance record also written to ``provenance.json``.
    """
    if subjects < labelled + 2 * held_out or labelled < 1 or held_out < 1:
        raise ValueError(f'{_ERR}need subjects >= labelled + 2 * held_out '
                         f'with both >= 1 (got {subjects}, {labelled}, '
                         f'{held_out}).')
    if osp.isfile(osp.join(out, 'provenance.json')):
        raise FileExistsError(f'{_ERR}{out!r} already holds a demo set; '
                              'remove it or choose another --out.')
    paths = find_mni152(mni_dir)
    t1, probs, affine = load_mni152(paths, factor)
    brain = t1 > 0
    rng = np.random.default_rng(seed)
    os.makedirs(out, exist_ok=True)
    cases = [f'sub{i:03d}' for i in range(subjects)]
    for i, case in enumerate(cases):
        if i == 0:
            s_t1, s_probs, s_brain = t1, probs, brain
        else:
            grid = _warp_grid(t1.shape, rng, amplitude, rotate_deg=6,
                              scale=0.06)
            s_probs = _warp(probs, grid)
            s_brain = _warp(brain.astype(np.float32), grid) > 0.5
            bias = np.exp(0.1 * _smooth_noise(t1.shape, rng, 3)[0].numpy())
            s_t1 = _warp(t1, grid) * bias
            s_t1 = s_t1 + 0.01 * rng.standard_normal(t1.shape)
            s_t1 = np.where(s_brain, np.clip(s_t1, 0, None), 0)
            s_probs = s_probs * s_brain
        folder = osp.join(out, case)
        os.makedirs(folder, exist_ok=True)
        _save(s_t1.astype(np.float32), affine,
              osp.join(folder, f'{case}_t1.nii.gz'))
        for mod, weights in SIMULATED_CONTRASTS.items():
            _save(
                simulate_contrast(s_probs, weights, rng), affine,
                osp.join(folder, f'{case}_{mod}.nii.gz'))
        _save(
            tissue_labels(s_probs, s_brain), affine,
            osp.join(folder, f'{case}_seg.nii.gz'))

    test = cases[-held_out:]
    val = cases[-2 * held_out:-held_out]
    pool = cases[:-2 * held_out]
    train = pool[:labelled]

    def entry(case: str, mods: Sequence[str], label: bool = True) -> dict:
        item = dict(
            case=case,
            images={m: f'{case}/{case}_{m}.nii.gz'
                    for m in mods})
        if label:
            item['label'] = f'{case}/{case}_seg.nii.gz'
        return item

    all_mods = ('t1', ) + tuple(SIMULATED_CONTRASTS)
    pretrain = [entry(c, all_mods, label=False) for c in pool]
    brainweb = find_brainweb_pair(itk_dir)
    brainweb_info = None
    if brainweb is not None:
        volumes, brainweb_info = _brainweb_study(brainweb, t1, factor)
        folder = osp.join(out, 'brainweb')
        os.makedirs(folder, exist_ok=True)
        for mod, vol in volumes.items():
            _save(vol, affine, osp.join(folder, f'brainweb_{mod}.nii.gz'))
        pretrain.append(entry('brainweb', tuple(volumes), label=False))
        brainweb_info['files'] = brainweb
    splits = dict(
        pretrain=pretrain,
        seg_train=[entry(c, ('t1', )) for c in train],
        seg_val=[entry(c, ('t1', )) for c in val],
        seg_test=[entry(c, ('t1', )) for c in test])
    for name, items in splits.items():
        with open(osp.join(out, f'{name}.json'), 'w') as f:
            json.dump(items, f, indent=1)
    record = dict(
        canvas=list(t1.shape),
        voxel_mm=factor,
        classes=list(TISSUE_CLASSES),
        seed=seed,
        sources=dict(
            mni152={k: osp.basename(v) for k, v in paths.items()},
            brainweb=brainweb_info),
        real='t1 of sub000 (the MNI152 2009a T1); brainweb t1/pd (BrainWeb '
        'simulator images shipped by ITK)',
        derived='t1 of sub001..: the MNI152 T1 under random smooth '
        'deformations, bias fields and noise; labels: argmax of the '
        'CSF/GM/WM maps',
        simulated='t2, pd, flair of every subject: tissue-map mixes '
        f'{SIMULATED_CONTRASTS}',
        splits={k: [i['case'] for i in v] for k, v in splits.items()})
    with open(osp.join(out, 'provenance.json'), 'w') as f:
        json.dump(record, f, indent=1)
    with open(osp.join(out, 'README.txt'), 'w') as f:
        f.write(_README.format(**record, n=subjects))
    return record


_README = """BrainMVP demo data (made by tools/data/make_brain_demo.py)

NOT a data set of real subjects. Built from one real brain template:
- real: {real}
- derived: {derived}
- SIMULATED: {simulated}
Canvas {canvas} at {voxel_mm} mm (RAS). Labels: {classes}.
Splits (JSON manifests): {splits}
The segmentation splits list the T1 only: the other modalities are missing
there on purpose, and BrainMVP's templates stand in for them.
Numbers obtained on these data show that the pipeline works; they say
nothing about BrainMVP on real multi-parametric MRI.
"""

