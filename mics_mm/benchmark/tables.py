"""What each method of the label-efficiency benchmark runs with.

One table per task (:data:`KVASIR`, :data:`BRAIN`; :data:`TASKS` by name):
the pre-training config of each method per backbone, the fine-tuning
config per (backbone, protocol), the images a method reads per sample, the
methods that see one modality by design, the metrics and the method that is
ours. :data:`QUICK` holds the documented small setting (methods, fractions,
seeds and budgets) of each task, and :func:`plan` lists the (method,
backbone) pairs a run has configs for.

Config paths are relative to the repository root. The tables are shared
with ``tools/benchmark/pretrain_speed.py``, so both benchmarks measure the
same configs.
"""
from typing import Any, Dict, List, Sequence

__all__ = ['KVASIR', 'BRAIN', 'TASKS', 'QUICK', 'plan']

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


def plan(task: str, methods: Sequence[str],
         backbones: Sequence[str]) -> List[dict]:
    """The (method, backbone) pairs to run, with their pre-training config.

    A method without a config for a backbone is skipped for it (and listed
    in ``results.json`` as skipped, with the reason).

    Args:
        task (str): A key of :data:`TASKS`.
        methods (Sequence[str]): Methods of the task's ``pretrain`` table.
        backbones (Sequence[str]): Backbones, e.g. ``resnet18``,
            ``vit-tiny``.

    Returns:
        list[dict]: Per backbone, then per method: ``method``, ``backbone``
        and either ``config`` (a path, or None for ``scratch``: nothing to
        pre-train) or ``skipped`` (the reason).
    """
    table = TASKS[task]
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
