"""The training recipe a config gives on the user's data and GPUs.

:func:`recipe_report` computes, without building a model or a runner, what
mmengine's ``Runner`` would do with a config: the batch per GPU and in all,
the training-set size (built from the config's dataset, or given), the
iterations an epoch (``DefaultSampler`` + ``DataLoader`` arithmetic), the
total optimizer steps, the warm-up and the hooks' ramps in iterations, the
learning rate per optimizer after ``auto_scale_lr``, and warnings where the
schedule is too short to mean anything. :func:`format_recipe` prints it.
``tools/analysis/recipe_report.py`` is the command line.
"""
import math
from typing import Dict, List, Optional, Union

from mmengine.config import Config

__all__ = ['RECIPE_THRESHOLDS', 'recipe_report', 'format_recipe']

#: Below these a schedule is flagged (see :func:`recipe_report`).
RECIPE_THRESHOLDS = dict(
    pretrain_steps=2000,     # total optimizer steps of a pre-training
    finetune_steps=500,      # total optimizer steps of a fine-tuning
    ramp_iters=50,           # a warm-up or a ramp, in iterations
    steps_per_epoch=10,      # iterations an epoch
    lr_factor=8.0,           # auto_scale_lr factor above x8 or below /8
)

WARMUP_TYPES = ('LinearLR', 'QuadraticWarmupLR')
REPEAT_TYPES = ('RepeatDataset', )
CONCAT_TYPES = ('ConcatDataset', )



#: samplers that split the data as mmengine's DefaultSampler / InfiniteSampler
EPOCH_SAMPLERS = ('DefaultSampler', 'SeededSampler')
INFINITE_SAMPLERS = ('InfiniteSampler', 'SeededInfiniteSampler')

def _type(cfg) -> str:
    """A config node's ``type`` without the scope (``mmengine.X`` -> X)."""
    typ = cfg.get('type', '') if isinstance(cfg, dict) else ''
    if not isinstance(typ, str):
        typ = getattr(typ, '__name__', str(typ))
    return typ.rsplit('.', 1)[-1]


def _set_data_root(ds_cfg: dict, data_root: str) -> None:
    """Set ``data_root`` on the leaf dataset(s) below the wrappers."""
    if 'datasets' in ds_cfg:
        for child in ds_cfg['datasets']:
            _set_data_root(child, data_root)
    elif isinstance(ds_cfg.get('dataset'), dict):
        _set_data_root(ds_cfg['dataset'], data_root)
    else:
        ds_cfg['data_root'] = data_root


def _cfg_sizes(ds_cfg: dict, num_images: int, notes: List[str]) -> int:
    """Samples an epoch from the config's wrappers around ``num_images``
    images (``RepeatDataset.times`` multiply)."""
    typ = _type(ds_cfg)
    if typ in CONCAT_TYPES:
        sizes = {_cfg_sizes(c, num_images, notes) for c in ds_cfg['datasets']}
        if len(sizes) != 1:
            raise ValueError(
                'the ConcatDataset parts repeat differently; --num-images '
                'cannot be spread over them: build the data set instead '
                '(--data-root DIR)')
        return sizes.pop()
    if isinstance(ds_cfg.get('dataset'), dict):
        inner = _cfg_sizes(ds_cfg['dataset'], num_images, notes)
        if typ in REPEAT_TYPES:
            return inner * int(ds_cfg.get('times', 1))
        notes.append(f'{typ} wraps the data set; its size is taken as the '
                     'inner one (build the data set for the exact size)')
        return inner
    return num_images


def _built_sizes(dataset) -> int:
    """Images of a built data set below its wrappers."""
    if hasattr(dataset, 'datasets'):
        return sum(_built_sizes(d) for d in dataset.datasets)
    inner = getattr(dataset, 'dataset', None)
    if inner is not None and hasattr(inner, '__len__'):
        return _built_sizes(inner)
    return len(dataset)


def _wrappers(ds_cfg: dict) -> List[str]:
    """The wrapper chain, e.g. ``['RepeatDataset(times=3)']``."""
    out = []
    node = ds_cfg
    while isinstance(node, dict):
        typ = _type(node)
        if typ in CONCAT_TYPES:
            out.append(f'{typ}({len(node["datasets"])} parts)')
            break
        if isinstance(node.get('dataset'), dict):
            out.append(f'{typ}(times={node["times"]})'
                       if 'times' in node else typ)
            node = node['dataset']
        else:
            break
    return out


def _build_dataset(cfg: Config):
    """Build ``train_dataloader.dataset`` in the config's default scope."""
    from mmengine.registry import DATASETS, init_default_scope
    import mics_mm  # noqa: F401  (registers the modules)
    init_default_scope(cfg.get('default_scope') or 'mics_mm')
    ds_cfg = cfg.train_dataloader.dataset
    return DATASETS.build(ds_cfg.to_dict() if hasattr(ds_cfg, 'to_dict')
                          else dict(ds_cfg))


def _kind(cfg: Config, source: str) -> str:
    """``'pretrain'`` for a self-supervised model (mmpretrain's
    ``BaseSelfSupervisor``), else ``'finetune'``; by the file name when the
    model type is not found."""
    model = cfg.get('model')
    typ = model.get('type') if isinstance(model, dict) else None
    scope = cfg.get('default_scope') or 'mics_mm'
    if scope not in ('mics_mm', 'mmpretrain'):
        return 'finetune'  # mmseg / mmdet models: downstream tasks
    if isinstance(typ, str):
        try:
            from mmengine.registry import MODELS
            from mmpretrain.models import BaseSelfSupervisor
            import mics_mm  # noqa: F401
            with MODELS.switch_scope_and_registry(scope) as registry:
                cls = registry.get(typ)
            if isinstance(cls, type):
                return 'pretrain' if issubclass(
                    cls, BaseSelfSupervisor) else 'finetune'
        except Exception:  # registry or import trouble: use the name
            pass
    name = source.replace('\\', '/')
    if any(k in name for k in ('benchmarks/', 'finetune', 'linear')):
        return 'finetune'
    return 'pretrain'


def _optimizers(optim_wrapper) -> Dict[str, dict]:
    """Optimizer wrapper configs by name (``'optim_wrapper'`` when one)."""
    if not isinstance(optim_wrapper, dict):
        return {}
    if 'optimizer' in optim_wrapper:
        return {'optim_wrapper': optim_wrapper}
    return {k: v for k, v in optim_wrapper.items()
            if isinstance(v, dict) and 'optimizer' in v}


def _schedulers_for(param_scheduler, name: str):
    """The scheduler list that mmengine builds for optimizer ``name``
    (a list or one dict applies to every optimizer; a dict without
    ``type`` is keyed by optimizer name)."""
    if param_scheduler is None:
        return []
    if isinstance(param_scheduler, dict) and 'type' not in param_scheduler:
        entry = param_scheduler.get(name)
        if entry is None:
            return None
        param_scheduler = entry
    if isinstance(param_scheduler, dict):
        return [param_scheduler]
    return list(param_scheduler)


def _iters(value, by_epoch: bool, epoch_len: int, convert: bool) -> int:
    """A scheduler bound in iterations (mmengine: ``int(v * epoch_len)``
    when converted)."""
    if not by_epoch:
        return int(value)
    return int(value * epoch_len) if convert else int(value) * epoch_len


def _fmt_num(x) -> str:
    if isinstance(x, float) and not x.is_integer():
        return f'{x:,.1f}'
    return f'{int(x):,}'


def _fmt_epochs(epochs: Optional[float]) -> str:
    if epochs is None:
        return ''
    return f' = {epochs:.3g} epoch' + ('' if epochs == 1 else 's')


def _fmt_lr(x: float) -> str:
    return f'{x:.4g}'


def recipe_report(cfg: Union[str, Config, dict],
                  gpus: int,
                  num_images: Optional[int] = None,
                  data_root: Optional[str] = None,
                  auto_scale_lr: bool = False,
                  kind: Optional[str] = None,
                  thresholds: Optional[dict] = None) -> dict:
    """The recipe ``cfg`` gives on ``gpus`` GPUs, as mmengine runs it.

    The arithmetic is mmengine's: ``DefaultSampler`` (``round_up=True``)
    gives every rank ``ceil(N / gpus)`` samples (``round_up=False``: rank
    0's ``ceil(N / gpus)``), ``InfiniteSampler`` has length ``N``; the
    ``DataLoader`` makes ``len // batch`` iterations with ``drop_last``,
    ``ceil(len / batch)`` without (mmengine's default). An epoch-based loop
    runs ``max_epochs`` x that, an iteration-based one ``max_iters``;
    ``optim_wrapper.accumulative_counts`` divides iterations into optimizer
    steps. Epoch-based scheduler bounds become ``int(bound * epoch_len)``
    iterations (``convert_to_iter_based``). ``auto_scale_lr`` multiplies
    every optimizer's lr by ``gpus * batch / base_batch_size`` when
    ``auto_scale_lr`` (``--auto-scale-lr``) or the config's
    ``auto_scale_lr.enable`` is set.

    Ramps read from ``custom_hooks``: ``MICSAlphaWarmupHook``
    (``warmup_iters``, else ``warmup_epochs`` x iterations an epoch),
    ``MICSLambdaRampHook`` (``ramp_fraction`` x total iterations),
    ``BrainMVPScheduleHook`` (``cmr_start`` / ``cl_start`` / ``md_end``,
    epochs when ``by_epoch``).

    Warnings (:data:`RECIPE_THRESHOLDS`): fewer optimizer steps than 2,000
    (pre-training) or 500 (fine-tuning); a warm-up or ramp shorter than 50
    iterations; fewer than 10 iterations an epoch; an lr scaling factor
    above 8 or below 1/8; no iteration at all; a warm-up, ramp or phase
    that ends or starts after the last iteration; a schedule that ends
    before or after training; an epoch-based scheduler in an
    iteration-based loop.

    Args:
        cfg (str | Config | dict): Config file or config (after any
            ``--cfg-options``).
        gpus (int): Number of GPUs (world size).
        num_images (int, optional): Training images before the data-set
            wrappers (``RepeatDataset`` times still multiply); without it
            the config's training set is built. Defaults to None.
        data_root (str, optional): Replaces the training data set's
            ``data_root`` (below any wrappers) before building it.
        auto_scale_lr (bool): As ``tools/train.py --auto-scale-lr``.
        kind (str, optional): ``'pretrain'`` or ``'finetune'`` (thresholds);
            by default ``'pretrain'`` for a self-supervised model
            (``BaseSelfSupervisor``), else ``'finetune'``.
        thresholds (dict, optional): Overrides of
            :data:`RECIPE_THRESHOLDS`.

    Returns:
        dict: JSON-serialisable; keys ``config``, ``kind``, ``gpus``,
        ``batch_per_gpu``, ``global_batch``, ``accumulative_counts``,
        ``num_images``, ``num_images_source``, ``samples_per_epoch``,
        ``wrappers``, ``sampler``, ``round_up``, ``samples_per_gpu``,
        ``drop_last``, ``steps_per_epoch``, ``loop``, ``max_epochs``,
        ``total_iters``, ``optimizer_steps``, ``data_passes``,
        ``schedulers`` (per optimizer), ``warmup`` (per optimizer),
        ``ramps``, ``lr`` (per optimizer), ``auto_scale_lr``, ``notes``,
        ``warnings``.

    Raises:
        ValueError: ``gpus`` < 1, no ``train_dataloader`` / batch size /
            ``train_cfg``, ``--auto-scale-lr`` without ``base_batch_size``,
            or a training set that cannot be built.
    """
    limits = dict(RECIPE_THRESHOLDS, **(thresholds or {}))
    source = '<config>'
    if isinstance(cfg, str):
        source = cfg
        cfg = Config.fromfile(cfg)
    elif not isinstance(cfg, Config):
        cfg = Config(dict(cfg))
    elif cfg.filename:
        source = cfg.filename
    if gpus < 1:
        raise ValueError(f'gpus must be >= 1, got {gpus}')
    loader = cfg.get('train_dataloader')
    if not isinstance(loader, dict) or 'batch_size' not in loader:
        raise ValueError(f'{source}: no train_dataloader.batch_size')
    train_cfg = cfg.get('train_cfg')
    if not isinstance(train_cfg, dict):
        raise ValueError(f'{source}: no train_cfg')
    notes: List[str] = []
    warnings: List[str] = []
    batch = int(loader['batch_size'])
    global_batch = batch * gpus
    optims = _optimizers(cfg.get('optim_wrapper'))
    accum = max([int(o.get('accumulative_counts', 1))
                 for o in optims.values()] or [1])

    # training-set size
    ds_cfg = loader.get('dataset') or {}
    if data_root is not None:
        _set_data_root(ds_cfg, data_root)
    if num_images is not None:
        if num_images < 1:
            raise ValueError(f'num_images must be >= 1, got {num_images}')
        images = int(num_images)
        samples = _cfg_sizes(ds_cfg, images, notes)
        images_source = '--num-images'
    else:
        try:
            dataset = _build_dataset(cfg)
        except Exception as err:  # any build error: say what to do
            root = data_root or (ds_cfg.get('data_root') if isinstance(
                ds_cfg, dict) else None)
            raise ValueError(
                f'cannot build the training set of {source} (data root '
                f'{root!r}): {type(err).__name__}: {str(err).rstrip(".")}. '
                'Give --data-root '
                'DIR, or --num-images K to skip building it.') from err
        samples = len(dataset)
        images = _built_sizes(dataset)
        root = data_root or ds_cfg.get('data_root')
        images_source = f'built from {root}' if root else 'built'

    # sampler and data loader
    sampler = loader.get('sampler') or {}
    sampler_type = _type(sampler) or 'DefaultSampler'
    round_up = bool(sampler.get('round_up', True))
    drop_last = bool(loader.get('drop_last', False))
    infinite = sampler_type in INFINITE_SAMPLERS
    if infinite:
        sampler_len = samples
        notes.append(
            f'{sampler_type}: mmengine counts an epoch (for '
            'convert_to_iter_based and per-epoch hooks) as '
            f'len(dataloader) = {samples:,} / {batch} iterations, i.e. '
            f'{gpus} passes over the data on {gpus} GPUs')
    else:
        if sampler_type not in EPOCH_SAMPLERS:
            notes.append(f'{sampler_type}: counted as a DefaultSampler')
        sampler_len = math.ceil(samples / gpus)
        if not round_up and samples % gpus:
            notes.append('round_up=False: ranks get unequal shares; rank '
                         f'0 gets {sampler_len:,}')
    if loader.get('batch_sampler'):
        notes.append('batch_sampler set: counted as plain batches of '
                     f'{batch}')
    steps_per_epoch = sampler_len // batch if drop_last else math.ceil(
        sampler_len / batch)

    # loop
    loop_type = _type(train_cfg)
    if loop_type:
        iter_based = 'Iter' in loop_type
    elif 'by_epoch' in train_cfg:
        iter_based = not train_cfg['by_epoch']
    else:
        iter_based = 'max_iters' in train_cfg and \
            'max_epochs' not in train_cfg
    if iter_based:
        loop = 'iter'
        max_epochs = None
        total_iters = int(train_cfg['max_iters'])
    else:
        loop = 'epoch'
        max_epochs = int(train_cfg['max_epochs'])
        total_iters = max_epochs * steps_per_epoch
    optimizer_steps = math.ceil(total_iters / accum)
    # passes over the images (RepeatDataset's times count)
    if iter_based:
        data_passes = total_iters * global_batch / images if images else 0.
    else:
        data_passes = max_epochs * samples / images if images else 0.

    # schedulers and warm-up, per optimizer
    names = list(optims) or ['optim_wrapper']
    param_scheduler = cfg.get('param_scheduler')
    schedulers: Dict[str, list] = {}
    warmup: Dict[str, Optional[dict]] = {}
    for name in names:
        entries = _schedulers_for(param_scheduler, name)
        if entries is None:
            warnings.append(f'param_scheduler is keyed by optimizer but has '
                            f'no {name!r} entry (mmengine fails to build it)')
            entries = []
        rows = []
        for sch in entries:
            by_epoch = bool(sch.get('by_epoch', True))
            convert = bool(sch.get('convert_to_iter_based', False))
            default_end = (max_epochs if max_epochs is not None else 1) \
                if by_epoch else total_iters
            begin = sch.get('begin', 0)
            end = sch.get('end', default_end)
            row = dict(
                type=_type(sch), by_epoch=by_epoch,
                convert_to_iter_based=convert, begin=begin, end=end,
                begin_iter=_iters(begin, by_epoch, steps_per_epoch, convert),
                end_iter=_iters(end, by_epoch, steps_per_epoch, convert),
                stepped='epoch' if by_epoch and not convert else 'iteration')
            rows.append(row)
            if by_epoch and not convert and iter_based:
                warnings.append(
                    f'{name}: {row["type"]} is epoch-based (by_epoch=True, '
                    'no convert_to_iter_based) in an iteration-based loop: '
                    'it never steps')
        schedulers[name] = rows
        first = next((r for r in rows if r['type'] in WARMUP_TYPES), None)
        if first is None:
            warmup[name] = None
            continue
        length = first['end_iter'] - first['begin_iter']
        warmup[name] = dict(
            type=first['type'], begin_iter=first['begin_iter'],
            end_iter=first['end_iter'], iters=length,
            epochs=length / steps_per_epoch if steps_per_epoch else None,
            stepped=first['stepped'])
        if length < limits['ramp_iters']:
            warnings.append(
                f'{name}: warm-up ({first["type"]}) lasts {length} '
                f'iterations (< {limits["ramp_iters"]})')
        if first['end_iter'] > total_iters:
            warnings.append(
                f'{name}: warm-up ends at iteration {first["end_iter"]:,}, '
                f'after the last one ({total_iters:,})')
        if first['stepped'] == 'epoch' and not iter_based:
            notes.append(f'{name}: the warm-up steps once an epoch '
                         '(no convert_to_iter_based)')
    for name, rows in schedulers.items():
        lr_rows = [r for r in rows if r['type'].endswith('LR')]
        if not lr_rows:
            continue
        last_end = max(r['end_iter'] for r in lr_rows)
        if last_end < total_iters:
            warnings.append(
                f'{name}: the lr schedule ends at iteration {last_end:,}, '
                f'before the last one ({total_iters:,}); the lr stays '
                'constant after')
        elif last_end > total_iters:
            warnings.append(
                f'{name}: the lr schedule ends at iteration {last_end:,}, '
                f'after the last one ({total_iters:,}): it is cut short '
                '(the lr never reaches its end value)')

    # ramps from custom hooks
    ramps: List[dict] = []

    def add_ramp(hook, what, start, end, check_length=True):
        length = end - start
        ramps.append(dict(
            hook=hook, what=what, start_iter=start, end_iter=end,
            iters=length,
            epochs=length / steps_per_epoch if steps_per_epoch else None))
        if start >= total_iters:
            warnings.append(f'{hook}: {what} starts at iteration '
                            f'{_fmt_num(start)}, after the last one '
                            f'({total_iters:,}): it never happens')
        elif end > total_iters:
            warnings.append(f'{hook}: {what} ends at iteration '
                            f'{_fmt_num(end)}, after the last one '
                            f'({total_iters:,})')
        if check_length and 0 < length < limits['ramp_iters']:
            warnings.append(f'{hook}: {what} lasts {_fmt_num(length)} '
                            f'iterations (< {limits["ramp_iters"]})')

    for hook in cfg.get('custom_hooks') or []:
        typ = _type(hook)
        if typ == 'MICSAlphaWarmupHook':
            if hook.get('warmup_iters') is not None:
                length = hook['warmup_iters']
            else:
                length = hook.get('warmup_epochs', 1.0) * steps_per_epoch
            add_ramp(typ, 'alpha warm-up', 0, length)
        elif typ == 'MICSLambdaRampHook':
            length = hook.get('ramp_fraction', 1.0) * total_iters
            if length > 0:
                add_ramp(typ, 'lambda ramp', 0, length)
        elif typ == 'BrainMVPScheduleHook':
            unit = steps_per_epoch if hook.get('by_epoch', True) else 1
            if hook.get('by_epoch', True) and iter_based:
                warnings.append(
                    'BrainMVPScheduleHook counts epochs (by_epoch=True) in '
                    'an iteration-based loop, where the epoch stays 0')
            cmr, cl = hook.get('cmr_start'), hook.get('cl_start')
            starts = [(0, 'phase 1 (MD + MD views)')]
            if cmr is not None:
                starts.append((cmr * unit, 'phase 2 (MD + CMR views)'))
            if cl is not None:
                starts.append((cl * unit, 'phase 3 (+ contrastive loss)'))
            starts.sort(key=lambda s: s[0])
            for i, (start, what) in enumerate(starts):
                end = starts[i + 1][0] if i + 1 < len(starts) else max(
                    total_iters, start)
                add_ramp(typ, what, start, end)
            if hook.get('md_end') is not None:
                end = hook['md_end'] * unit
                add_ramp(typ, 'MD view (until md_end)', 0, end)
        elif typ == 'MICSQueueSizeHook':
            cap = int(hook.get('max_fraction', 0.5) * samples)
            notes.append(f'MICSQueueSizeHook: the consistency queue is '
                         f'capped at {cap:,} (max_fraction x {samples:,})')

    # learning rates and auto_scale_lr
    scale_cfg = cfg.get('auto_scale_lr') or {}
    base_bs = scale_cfg.get('base_batch_size')
    if auto_scale_lr and base_bs is None:
        raise ValueError('--auto-scale-lr needs `auto_scale_lr = dict('
                         'base_batch_size=...)` in the config')
    applied = bool(auto_scale_lr or scale_cfg.get('enable', False))
    factor = global_batch / base_bs if base_bs else None
    if applied and factor is None:
        raise ValueError('auto_scale_lr.enable without base_batch_size')
    lrs = {}
    for name, ow in optims.items():
        opt = ow.get('optimizer') or {}
        lr = opt.get('lr')
        entry = dict(optimizer=_type(opt), lr=lr, scaled_lr=None,
                     would_be=None)
        if lr is not None and factor is not None:
            if applied:
                entry['scaled_lr'] = lr * factor
            else:
                entry['would_be'] = lr * factor
        lrs[name] = entry
    if factor is not None:
        big = limits['lr_factor']
        if factor > big or factor < 1 / big:
            what = 'scales' if applied else 'would scale'
            warnings.append(
                f'auto_scale_lr {what} the lr by {factor:.4g} '
                f'({global_batch} / base {base_bs}), beyond x{big:g} or '
                f'/{big:g}' + ('' if applied else
                               '; the lr is not scaled, far from the batch '
                               'it was tuned for'))

    # schedule length
    if kind is None:
        kind = _kind(cfg, source)
    if steps_per_epoch == 0:
        warnings.append(
            f'no iteration at all: {sampler_len} samples per GPU < batch '
            f'{batch} with drop_last=True')
    elif not iter_based and steps_per_epoch < limits['steps_per_epoch']:
        warnings.append(f'{steps_per_epoch} iterations an epoch '
                        f'(< {limits["steps_per_epoch"]})')
    need = limits['pretrain_steps' if kind == 'pretrain' else
                  'finetune_steps']
    if optimizer_steps < need:
        warnings.append(
            f'{optimizer_steps:,} optimizer steps in all (< {need:,} for '
            f'{"pre-training" if kind == "pretrain" else "fine-tuning"})')

    return dict(
        config=source, kind=kind, gpus=gpus, batch_per_gpu=batch,
        global_batch=global_batch, accumulative_counts=accum,
        num_images=images, num_images_source=images_source,
        samples_per_epoch=samples, wrappers=_wrappers(ds_cfg),
        sampler=sampler_type, round_up=round_up,
        samples_per_gpu=sampler_len, drop_last=drop_last,
        steps_per_epoch=steps_per_epoch, loop=loop, max_epochs=max_epochs,
        total_iters=total_iters, optimizer_steps=optimizer_steps,
        data_passes=data_passes, schedulers=schedulers, warmup=warmup,
        ramps=ramps, lr=lrs,
        auto_scale_lr=dict(base_batch_size=base_bs, factor=factor,
                           applied=applied),
        notes=notes, warnings=warnings)


def format_recipe(report: dict) -> str:
    """The report of :func:`recipe_report` as text (one fact a line, then
    the notes and the warnings)."""
    r = report
    kind = 'pre-training' if r['kind'] == 'pretrain' else 'fine-tuning'
    lines = [f'Recipe of {r["config"]} ({kind}) on {r["gpus"]} GPU'
             + ('s' if r['gpus'] > 1 else '')]

    def row(key, value):
        lines.append(f'  {key:<18}{value}')

    row('training set', f'{r["num_images"]:,} images '
        f'({r["num_images_source"]})')
    if r['wrappers'] or r['samples_per_epoch'] != r['num_images']:
        row('samples / epoch', f'{r["samples_per_epoch"]:,}'
            + (f' ({" > ".join(r["wrappers"])})' if r['wrappers'] else ''))
    accum = r['accumulative_counts']
    row('batch', f'{r["batch_per_gpu"]} per GPU x {r["gpus"]} = '
        f'{r["global_batch"]:,} global'
        + (f' (x {accum} accumulated = {r["global_batch"] * accum:,} '
           'per optimizer step)' if accum > 1 else ''))
    if r['sampler'] in INFINITE_SAMPLERS:
        spl = f'{r["sampler"]}, length {r["samples_per_gpu"]:,}'
    else:
        spl = (f'{r["sampler"]} (round_up={r["round_up"]}): '
               f'{r["samples_per_gpu"]:,} samples per GPU')
    row('sampler', spl)
    n, b = f'{r["samples_per_gpu"]:,}', r['batch_per_gpu']
    how = f'{n} // {b}' if r['drop_last'] else f'ceil({n} / {b})'
    row('steps / epoch', f'{r["steps_per_epoch"]:,} iterations '
        f'(drop_last={r["drop_last"]}: {how})')
    if r['sampler'] in INFINITE_SAMPLERS and r['global_batch']:
        row('', f'(mmengine\'s epoch, len(dataloader); one pass over the '
            f'data is {r["samples_per_epoch"] / r["global_batch"]:.3g} '
            'iterations)')
    if r['loop'] == 'epoch':
        sched = (f'{r["max_epochs"]:,} epochs x {r["steps_per_epoch"]:,} = '
                 f'{r["total_iters"]:,} iterations')
    else:
        sched = f'{r["total_iters"]:,} iterations (iteration-based loop)'
    row('total', sched + f', {r["optimizer_steps"]:,} optimizer steps, '
        f'{r["data_passes"]:.3g} passes over the images')
    for name, rows in r['schedulers'].items():
        parts = [f'{s["type"]} [{s["begin_iter"]:,}, {s["end_iter"]:,})'
                 + (' per epoch' if s['stepped'] == 'epoch' else '')
                 for s in rows]
        row('lr schedule',
            f'{name}: ' + ('; '.join(parts) or 'none (constant lr)'))
    for name, w in r['warmup'].items():
        if w is None:
            row('warm-up', f'{name}: none')
            continue
        epochs = _fmt_epochs(w['epochs'])
        row('warm-up', f'{name}: {w["type"]} {w["iters"]:,} iterations'
            f'{epochs} (iterations {w["begin_iter"]:,}-{w["end_iter"]:,}, '
            f'stepped per {w["stepped"]})')
    for ramp in r['ramps']:
        epochs = _fmt_epochs(ramp['epochs'])
        row('ramp', f'{ramp["hook"]}: {ramp["what"]} '
            f'{_fmt_num(ramp["iters"])} iterations{epochs} (iterations '
            f'{_fmt_num(ramp["start_iter"])}-{_fmt_num(ramp["end_iter"])})')
    scale = r['auto_scale_lr']
    for name, lr in r['lr'].items():
        if lr['lr'] is None:
            row('lr', f'{name}: {lr["optimizer"]}, lr not set')
            continue
        text = f'{name}: {lr["optimizer"]} lr {_fmt_lr(lr["lr"])}'
        if scale['factor'] is None:
            text += ' (no auto_scale_lr in the config: not scaled)'
        elif scale['applied']:
            text += (f' -> {_fmt_lr(lr["scaled_lr"])} (auto_scale_lr: x'
                     f'{scale["factor"]:.4g} = {r["global_batch"]} / '
                     f'{scale["base_batch_size"]})')
        else:
            text += (f', not scaled (no --auto-scale-lr); scaled it would '
                     f'be {_fmt_lr(lr["would_be"])} (x{scale["factor"]:.4g}'
                     f' = {r["global_batch"]} / {scale["base_batch_size"]})')
        row('lr', text)
    for note in r['notes']:
        lines.append(f'  note: {note}')
    if r['warnings']:
        lines.append(f'WARNINGS ({len(r["warnings"])}):')
        lines += [f'  - {w}' for w in r['warnings']]
    else:
        lines.append('No warnings.')
    return '\n'.join(lines)
