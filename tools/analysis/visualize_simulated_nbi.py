"""Show white-light images next to their simulated narrow-band images.

Reads a Kvasir-style folder (``<data>/<class>/*.jpg``) or a MICS paired
folder (``<data>/{train,test}/<class>_WLI/*.png``), takes the first image of
``--num`` classes, applies ``SimulatedNBI`` (the registered pipeline
transform of :mod:`mics_mm.datasets.transforms`, default arguments) and
saves a figure
WLI | simulated NBI (| NBI on disk, for the paired layout). When the folder
is the SYNTHETIC demo data of ``tools/data/make_demo_kvasir.py`` the figure
says so in its title.

The picture in the docs was made with::

    python tools/data/make_demo_kvasir.py --out /tmp/demo_kvasir --size 128
    python tools/analysis/visualize_simulated_nbi.py --data /tmp/demo_kvasir \\
        --out docs/simulated_nbi.png --num 4
"""
import argparse
import io
from pathlib import Path
from typing import List, Optional, Tuple

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

from mics_mm.testing.kvasir_demo import is_synthetic_demo  # noqa: E402
from mics_mm.datasets.transforms import (LoadMultiModalImages,  # noqa
                                         SimulatedNBI)

IMG_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff')


def find_samples(data: Path, num: int) -> List[Tuple[str, dict]]:
    """Return up to ``num`` (class name, img_path dict) pairs, one per class
    (classes spread evenly in sorted order).

    Args:
        data (Path): Kvasir-style or MICS paired folder.
        num (int): How many samples.

    Returns:
        list[tuple[str, dict]]: The class name and its ``img_path`` dict.
    """

    def first_image(folder: Path) -> Optional[Path]:
        files = sorted(p for p in folder.iterdir()
                       if p.suffix.lower() in IMG_EXTS)
        return files[0] if files else None

    samples = []
    split = next((data / s for s in ('train', 'test')
                  if (data / s).is_dir()), None)
    if split is not None:  # paired layout
        for wli_dir in sorted(split.glob('*_WLI')):
            name = wli_dir.name[:-len('_WLI')]
            wli = first_image(wli_dir)
            nbi_dir = split / f'{name}_NBI'
            nbi = first_image(nbi_dir) if nbi_dir.is_dir() else None
            if wli is not None:
                paths = {'wli': str(wli)}
                if nbi is not None:
                    paths['nbi'] = str(nbi)
                samples.append((name, paths))
    else:
        for folder in sorted(p for p in data.iterdir() if p.is_dir()):
            img = first_image(folder)
            if img is not None:
                samples.append((folder.name, {'wli': str(img)}))
    if len(samples) > num:  # spread over the classes
        step = len(samples) / num
        samples = [samples[int(i * step)] for i in range(num)]
    return samples


def save_png(fig: plt.Figure, path: str, dpi: int) -> None:
    """Save ``fig`` as a 256-colour PNG (noisy images compress badly)."""
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=dpi)
    plt.close(fig)
    buf.seek(0)
    img = Image.open(buf).convert('RGB')
    img.quantize(colors=256).save(path, optimize=True)


def main(argv=None) -> None:
    """Parse arguments, draw the figure, save it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data', required=True, help='image folder')
    parser.add_argument('--out', default='docs/simulated_nbi.png')
    parser.add_argument('--num', type=int, default=4, help='images')
    parser.add_argument('--dpi', type=int, default=80)
    args = parser.parse_args(argv)

    data = Path(args.data)
    samples = find_samples(data, args.num)
    if not samples:
        raise SystemExit(f'no images found under {data}')
    load = LoadMultiModalImages()
    simulate = SimulatedNBI(dst='simulated_nbi')
    paired = any('nbi' in paths for _, paths in samples)
    cols = ['WLI', 'simulated NBI'] + (['NBI on disk'] if paired else [])

    fig, axes = plt.subplots(
        len(samples), len(cols), figsize=(1.8 * len(cols),
                                          1.8 * len(samples) + 0.6),
        squeeze=False)
    for row, (name, paths) in enumerate(samples):
        results = simulate(
            load(dict(img_path=paths, modalities=('wli', 'nbi'))))
        shown = [results['img']['wli'], results['img']['simulated_nbi']]
        if paired:
            shown.append(results['img'].get('nbi'))
        for col, img in enumerate(shown):
            ax = axes[row, col]
            ax.axis('off')
            if img is not None:
                # BGR -> RGB
                ax.imshow(img[..., ::-1], interpolation='nearest')
            if row == 0:
                ax.set_title(cols[col], fontsize=9)
        axes[row, 0].text(
            -0.05, 0.5, name, transform=axes[row, 0].transAxes,
            rotation=90, ha='right', va='center', fontsize=8)
    title = 'WLI vs simulated NBI (SimulatedNBI)'
    if is_synthetic_demo(data):
        title += '\nsynthetic demo data - NOT real endoscopy'
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    save_png(fig, args.out, args.dpi)
    print(f'saved {args.out} ({Path(args.out).stat().st_size // 1024} KiB)')


if __name__ == '__main__':
    main()
