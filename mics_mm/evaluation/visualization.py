"""Plots of evaluation results."""
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

__all__ = ['save_confusion_matrix_png']


def save_confusion_matrix_png(matrix: Union[Sequence[Sequence[int]],
                                            np.ndarray],
                              classes: Sequence[str],
                              path: Union[str, Path],
                              title: Optional[str] = None) -> str:
    """Save a confusion matrix as a PNG image.

    Cells show the raw counts; the colour is the row-normalised fraction
    (recall of each true class spread over the predictions), so classes with
    different support are comparable. Rows are true classes, columns
    predicted classes.

    Args:
        matrix (array-like): Square (K, K) count matrix.
        classes (Sequence[str]): The K class names.
        path (str | Path): Output file; parent folders are created.
        title (str, optional): Figure title. Defaults to None.

    Returns:
        str: The path written.
    """
    # Build the figure without pyplot: Agg canvas, no global backend change.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    cm = np.asarray(matrix, dtype=np.int64)
    k = len(classes)
    if cm.shape != (k, k):
        raise ValueError(f'Matrix shape {cm.shape} does not match '
                         f'{k} classes.')
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0)

    size = max(4.0, 0.6 * k + 2.0)
    fig = Figure(figsize=(size + 1.0, size))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    im = ax.imshow(norm, cmap='Blues', vmin=0.0, vmax=1.0)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04,
                 label='fraction of true class')
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xticklabels(classes, rotation=45, ha='right')
    ax.set_yticklabels(classes)
    ax.set_xlabel('Predicted')
    ax.set_ylabel('True')
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(cm[i, j]), ha='center', va='center',
                    color='white' if norm[i, j] > 0.5 else 'black')
    if title:
        ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return str(path)
