"""What each method of the label-efficiency benchmark runs with.

One table per task (:data:`KVASIR`, :data:`BRAIN`; :data:`TASKS` by name):
the pre-training config of each method per backbone, the fine-tuning
config per (backbone, protocol), the images a method reads per sample, the
methods that see one modality by design, the metrics and the method that is
ours. :data:`QUICK` holds the documented small setting (methods, fractions,
seeds and budgets) of each task, and :func:`plan` lists the (method,
backbone) pairs a run has configs for.

Two scales (``--scale``): ``demo`` (the default; the tables above, CPU
minutes on the synthetic demo data) and ``paper`` (:data:`KVASIR_PAPER`,
Kvasir only: the full-size configs, ResNet-50 at 224 px and ViT-B/16 at
384 px, 8 GPUs x 32, on ``data/kvasir``; :data:`PAPER` holds its default
methods, fractions, seeds and protocols, and no budgets: epochs, batches
and iterations come from the configs). :func:`task_table` gives the table
of a task at a scale.

Config paths are relative to the repository root. The tables are shared
with ``tools/benchmark/pretrain_speed.py``, so both benchmarks measure the
same configs.
"""
from typing import Any, Dict, List, Sequence

__all__ = [
    'KVASIR', 'BRAIN', 'TASKS', 'QUICK', 'KVASIR_PAPER', 'PAPER', 'SCALES',
    'task_table', 'plan'
]

#: Kvasir classification (``--task kvasir``).
KVASIR: Dict[str, Any] = dict(
    default_data='data/kvasir_demo_synthetic',
    pretrain={
        'mics': {
            'resnet18': 'configs/mics/pretrain_kvasir_demo.py',
            'vit-tiny':
            'configs/mics/mics_vit-tiny-p8_1xb32-coslr-10e_kvasir-demo-64px.py'
        },
        'simclr': {
            'resnet18':
            'configs/baselines/simclr_resnet18_1xb32-coslr-10e_kvasir-demo-64px.py'
        },
        'mocov3': {
            'resnet18':
            'configs/baselines/mocov3_resnet18_1xb32-coslr-10e_kvasir-demo-64px.py'
        },
        'byol': {
            'resnet18':
            'configs/baselines/byol_resnet18_1xb32-coslr-10e_kvasir-demo-64px.py'
        },
        # the WLI image alone, as two augmented views (2 images per sample)
        **{
            f'{m}-wli': {
                'resnet18':
                f'configs/baselines/{m}_resnet18_1xb32-coslr-10e_kvasir-demo-wli-64px.py'
            }
            for m in ('simclr', 'mocov3', 'byol')
        },
        # both modalities, each image a sample of its own (64 images per
        # batch of 32 pairs, as the two-view methods)
        'mae': {
            'vit-tiny':
            'configs/baselines/mae_vit-tiny-p8_1xb32-coslr-10e_kvasir-demo-64px.py'
        },
        # the WLI image only: half the images per iteration, by design
        'mae-wli': {
            'vit-tiny':
            'configs/baselines/mae_vit-tiny-p8_1xb32-coslr-10e_kvasir-demo-wli-64px.py'
        },
        'scratch': {
            'resnet18': None,
            'vit-tiny': None
        },
    },
    finetune={
        ('resnet18', 'finetune'):
        'configs/mics/benchmarks/resnet18_mics-pre_1xb8-coslr-30e_kvasir-demo-10pct-64px.py',
        ('resnet18', 'linear'):
        'configs/mics/benchmarks/resnet18_mics-pre_1xb8-linear-coslr-30e_kvasir-demo-10pct-64px.py',
        ('vit-tiny', 'finetune'):
        'configs/mics/benchmarks/vit-tiny-p8_mics-pre_1xb8-coslr-30e_kvasir-demo-10pct-64px.py',
        ('vit-tiny', 'linear'):
        'configs/mics/benchmarks/vit-tiny-p8_mics-pre_1xb8-linear-coslr-30e_kvasir-demo-10pct-64px.py',
    },
    # images a method looks at per sample (views / modalities)
    images_per_sample=dict(mics=2, simclr=2, mocov3=2, byol=2, mae=2,
                           **{'mae-wli': 1, 'simclr-wli': 2,
                              'mocov3-wli': 2, 'byol-wli': 2}),
    # methods that see one modality by design (exempt from equal images)
    single_modality=('mae-wli', ),
    metrics=('accuracy', 'f1_macro', 'auc_macro'),
    ours='mics')

#: Brain MRI segmentation (``--task brain-seg``).
BRAIN: Dict[str, Any] = dict(
    default_data='data/brain_demo',
    pretrain={
        'brainmvp': {
            'resnet18': 'configs/brainmvp/pretrain_brain_demo.py',
            'vit-tiny':
            'configs/brainmvp/brainmvp_vit-tiny-p8_1xb16-coslr-20e_brain-demo-2d-96px.py'
        },
        'mae': {
            'vit-tiny':
            'configs/baselines/mae_vit-tiny-p8_1xb16-coslr-20e_brain-demo-2d-96px.py'
        },
        'scratch': {
            'resnet18': None,
            'vit-tiny': None
        },
    },
    finetune={
        ('resnet18', 'finetune'):
        'configs/brainmvp/benchmarks/upernet_resnet18_1xb8-300it_brain-demo-96px.py',
        ('vit-tiny', 'finetune'):
        'configs/brainmvp/benchmarks/upernet_vit-tiny-p8_1xb8-300it_brain-demo-96px.py',
    },
    # both read one slice stack of the sampled modalities per sample
    # (BrainMVP encodes it twice: compute, not data; see pretrain_speed.py)
    images_per_sample=dict(brainmvp=1, mae=1),
    single_modality=(),
    metrics=('mDice', ),
    ours='brainmvp')

#: The task tables by ``--task`` name.
TASKS: Dict[str, Dict[str, Any]] = {'kvasir': KVASIR, 'brain-seg': BRAIN}

#: The documented small setting of each task (``--quick``), also the
#: default of every value the command line leaves out.
QUICK: Dict[str, Dict[str, Any]] = {
    'kvasir':
    dict(
        methods=['mics', 'simclr', 'mocov3', 'byol', 'mae', 'scratch'],
        backbones=['resnet18', 'vit-tiny'],
        fractions=[0.1, 1.0],
        seeds=[0, 1],
        protocols=['finetune', 'linear'],
        pretrain_epochs=10,
        pretrain_batch=32,
        finetune_iters=100,
        finetune_batch=8),
    'brain-seg':
    dict(
        methods=['brainmvp', 'mae', 'scratch'],
        backbones=['resnet18', 'vit-tiny'],
        fractions=[0.34, 1.0],
        seeds=[0],
        protocols=['finetune'],
        pretrain_epochs=10,
        pretrain_batch=16,
        finetune_iters=150,
        finetune_batch=8),
}


#: Kvasir classification with the full-size configs (``--scale paper``):
#: every method pre-trains 100 epochs at 8 x 32 with its own recipe, then
#: the same full-size fine-tuning / linear-probe configs (1,000 iterations
#: of 8 x 32) at each fraction and seed.
KVASIR_PAPER: Dict[str, Any] = dict(
    default_data='data/kvasir',
    pretrain={
        'mics': {
            'resnet50':
            'configs/mics/mics_resnet50_8xb32-coslr-100e_kvasir-224px.py',
            'vit-base':
            'configs/mics/mics_vit-base-p16_8xb32-coslr-100e_kvasir-384px.py'
        },
        'simclr': {
            'resnet50':
            'configs/baselines/simclr_resnet50_8xb32-coslr-100e_kvasir-224px.py'
        },
        'mocov3': {
            'resnet50':
            'configs/baselines/mocov3_resnet50_8xb32-coslr-100e_kvasir-224px.py',
            'vit-base':
            'configs/baselines/mocov3_vit-base-p16_8xb32-coslr-100e_kvasir-384px.py'
        },
        'byol': {
            'resnet50':
            'configs/baselines/byol_resnet50_8xb32-coslr-100e_kvasir-224px.py'
        },
        # both modalities, each image a sample of its own
        'mae': {
            'vit-base':
            'configs/baselines/mae_vit-base-p16_8xb32-coslr-100e_kvasir-384px.py'
        },
        # the WLI image only: half the images per iteration, by design
        'mae-wli': {
            'vit-base':
            'configs/baselines/mae_vit-base-p16_8xb32-coslr-100e_kvasir-wli-384px.py'
        },
        'scratch': {
            'resnet50': None,
            'vit-base': None
        },
    },
    # one protocol config per backbone for every method (an encoder's
    # 'backbone.' weights load into it; the baselines' own linear-probe
    # configs, configs/baselines/benchmarks/, inherit these unchanged)
    finetune={
        ('resnet50', 'finetune'):
        'configs/mics/benchmarks/resnet50_mics-pre_8xb32-coslr-1000it_kvasir-10pct-224px.py',
        ('resnet50', 'linear'):
        'configs/mics/benchmarks/resnet50_mics-pre_8xb32-linear-coslr-1000it_kvasir-10pct-224px.py',
        ('vit-base', 'finetune'):
        'configs/mics/benchmarks/vit-base-p16_mics-pre_8xb32-coslr-1000it_kvasir-10pct-384px.py',
        ('vit-base', 'linear'):
        'configs/mics/benchmarks/vit-base-p16_mics-pre_8xb32-linear-coslr-1000it_kvasir-10pct-384px.py',
    },
    images_per_sample=dict(mics=2, simclr=2, mocov3=2, byol=2, mae=2,
                           **{'mae-wli': 1}),
    single_modality=('mae-wli', ),
    metrics=('accuracy', 'f1_macro', 'auc_macro'),
    ours='mics')

#: The tables of each ``--scale`` by task.
SCALES: Dict[str, Dict[str, Dict[str, Any]]] = {
    'demo': TASKS,
    'paper': {
        'kvasir': KVASIR_PAPER
    },
}

#: The defaults of ``--scale paper`` (Kvasir): methods, backbones,
#: fractions (split files of ``tools/data/make_splits.py``), seeds and
#: protocols. No budget: each config's epochs, batch and iterations.
PAPER: Dict[str, Dict[str, Any]] = {
    'kvasir':
    dict(
        methods=['mics', 'simclr', 'mocov3', 'byol', 'mae', 'scratch'],
        backbones=['resnet50', 'vit-base'],
        fractions=[0.05, 0.1, 0.2, 1.0],
        seeds=[0, 1, 2],
        protocols=['finetune', 'linear'],
        pretrain_epochs=None,
        pretrain_batch=None,
        finetune_iters=None,
        finetune_batch=None),
}


def task_table(task: str, scale: str = 'demo') -> Dict[str, Any]:
    """The table of ``task`` at ``scale``.

    Args:
        task (str): ``kvasir`` or ``brain-seg``.
        scale (str): ``demo`` or ``paper``. Defaults to 'demo'.

    Returns:
        dict: :data:`KVASIR`, :data:`BRAIN` or :data:`KVASIR_PAPER`.

    Raises:
        KeyError: No table for the task at that scale (``paper`` is Kvasir
            only).
    """
    tables = SCALES[scale]
    if task not in tables:
        raise KeyError(f'label_efficiency: --scale {scale} has no task '
                       f'{task!r} (it has {sorted(tables)})')
    return tables[task]


def plan(task: str, methods: Sequence[str], backbones: Sequence[str],
         scale: str = 'demo') -> List[dict]:
    """The (method, backbone) pairs to run, with their pre-training config.

    A method without a config for a backbone is skipped for it (and listed
    in ``results.json`` as skipped, with the reason).

    Args:
        task (str): A key of :data:`TASKS`.
        methods (Sequence[str]): Methods of the task's ``pretrain`` table.
        backbones (Sequence[str]): Backbones, e.g. ``resnet18``,
            ``vit-tiny`` (``paper``: ``resnet50``, ``vit-base``).
        scale (str): ``demo`` or ``paper``. Defaults to 'demo'.

    Returns:
        list[dict]: Per backbone, then per method: ``method``, ``backbone``
        and either ``config`` (a path, or None for ``scratch``: nothing to
        pre-train) or ``skipped`` (the reason).
    """
    table = task_table(task, scale)
    pairs = []
    for backbone in backbones:
        for method in methods:
            configs = table['pretrain'][method]
            if backbone not in configs:
                pairs.append(
                    dict(method=method, backbone=backbone, skipped=(
                        f'{method} has no {backbone} config (it runs on '
                        f'{sorted(configs)})')))
                continue
            pairs.append(
                dict(method=method, backbone=backbone,
                     config=configs[backbone]))
    return pairs
