"""Fail early on config keys that mmengine would ignore or reject late.

Used by :class:`mics_mm.engine.runner.SafeRunner` (so mmpretrain's packaged
``tools/train.py`` checks too) and by ``tools/train.py`` / ``tools/test.py``,
which also see the ``--cfg-options`` keys. docs/reliability.md, "Config
typos".
"""
import difflib
import inspect
import re
from typing import Iterable, List, Optional, Set

from mmengine.config import Config
from mmengine.runner import Runner

__all__ = ['UsageError', 'check_config_keys', 'runner_keys']

#: Top-level keys read by mmengine's Runner (besides ``Runner.__init__``'s
#: arguments), by :class:`SafeRunner` or by the tools.
RUNNER_EXTRA_KEYS = ('runner_type', 'model_wrapper_cfg',
                     'find_unused_parameters', 'compile', 'strategy',
                     'custom_imports', 'sync_bn', 'overwrite_work_dir')
#: Read by test-time tools; allowed, but not proposed as corrections.
OTHER_KNOWN_KEYS = ('tta_model', 'tta_pipeline')
#: Similarity (difflib ratio) from which an unknown top-level key counts as
#: a misspelt runner key. 0.85 flags transpositions and missing letters
#: (trian_cfg 0.89, optim_wraper 0.96, load_form 0.89) but no helper
#: variable of this project's or mmpretrain's configs (train_pipeline vs
#: tta_pipeline is 0.85 only because tta_* are not proposed).
NEAR_MISS = 0.85


class UsageError(ValueError):
    """A problem with the command line, the config or the work dir; the
    tools report it without a traceback."""


def runner_keys() -> Set[str]:
    """Top-level config keys mmengine's Runner reads."""
    params = inspect.signature(Runner.__init__).parameters
    return {p for p in params if p not in ('self', 'cfg')
            } | set(RUNNER_EXTRA_KEYS)


def _dotted_keys(node, prefix: str = '') -> Iterable[str]:
    """Every ``a.b.c`` key path of nested dicts (lists not entered)."""
    if isinstance(node, dict):
        for key, value in node.items():
            path = f'{prefix}{key}'
            yield path
            yield from _dotted_keys(value, path + '.')


def _nearest(key: str, candidates: Iterable[str],
             cutoff: float = 0.6) -> Optional[str]:
    """The candidate with the same last component as ``key``, else the
    most similar one."""
    candidates = sorted(set(candidates))
    leaf = key.rsplit('.', 1)[-1]
    for cand in candidates:
        if cand.rsplit('.', 1)[-1] == leaf and cand != key:
            return cand
    close = difflib.get_close_matches(key, candidates, n=1, cutoff=cutoff)
    return close[0] if close else None


def _hint(nearest: Optional[str]) -> str:
    return f"; did you mean '{nearest}'?" if nearest else '.'


def _model_class(type_name, scope: str):
    """The class a ``model`` node's ``type`` names, or None."""
    from mmengine.registry import MODELS
    if not isinstance(type_name, str):
        return type_name if inspect.isclass(type_name) else None
    try:
        with MODELS.switch_scope_and_registry(scope) as registry:
            return registry.get(type_name)
    except Exception:  # noqa: BLE001 (unknown scope / type: build reports)
        return None


def _accepted_args(cls) -> Optional[Set[str]]:
    """Keyword arguments ``cls(...)`` accepts, or None if that cannot be
    told. A class taking ``**kwargs`` that it only passes on to
    ``super().__init__(**kwargs)`` accepts its parents' arguments too
    (``MaskedResNet`` -> ``ResNet``); a class that reads its
    ``**kwargs`` otherwise is not checked."""
    accepted: Set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        try:
            params = inspect.signature(init).parameters
        except (TypeError, ValueError):
            return None
        accepted.update(n for n, p in params.items() if p.kind not in (
            inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL))
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD
                   for p in params.values()):
            accepted.discard('self')
            return accepted
        try:
            source = inspect.getsource(init)
        except (OSError, TypeError):
            return None
        if not re.search(r'super\([^)]*\)\.__init__\([^)]*\*\*kwargs',
                         source, re.S) or re.search(
                             r'kwargs(\.pop|\.get|\[)', source):
            return None  # kwargs used otherwise: cannot tell
    return None


def _check_model_node(node, path: str, scope: str, errors: List[str]) -> None:
    """Recursively check that every key of a ``type``-d dict is an argument
    of the class (:func:`_accepted_args`). Keys named ``*_cfg`` /
    ``*_cfgs`` (norm, act, init ...) are built by other means and
    skipped."""
    if isinstance(node, (list, tuple)):
        for i, item in enumerate(node):
            _check_model_node(item, f'{path}.{i}', scope, errors)
        return
    if not isinstance(node, dict):
        return
    cls = _model_class(node.get('type'), scope) if 'type' in node else None
    accepted = _accepted_args(cls) if cls is not None else None
    if accepted is not None:
        for key in node:
            if key in ('type', '_scope_') or key in accepted:
                continue
            near = difflib.get_close_matches(
                key, sorted(accepted), n=1, cutoff=0.6)
            errors.append(f"'{path}.{key}': {cls.__name__} has no argument "
                          f"'{key}'" + _hint(near[0] if near else None))
    for key, value in node.items():
        if key.endswith(('_cfg', '_cfgs')) or key == 'type':
            continue
        _check_model_node(value, f'{path}.{key}', scope, errors)


def _check_scheduler_names(cfg: Config, errors: List[str]) -> None:
    """Keys of a per-optimizer ``param_scheduler`` dict must name
    optimizer wrappers (the entries of ``optim_wrapper`` built by a
    multi-optimizer constructor)."""
    scheduler, optim = cfg.get('param_scheduler'), cfg.get('optim_wrapper')
    if not isinstance(scheduler, dict) or 'type' in scheduler or \
            not isinstance(optim, dict):
        return
    wrappers = {
        k for k, v in optim.items() if isinstance(v, dict) and k not in (
            'optimizer', 'paramwise_cfg', 'clip_grad')
    }
    example = 'generator' if 'generator' in wrappers else min(
        wrappers, default='NAME')
    for key in sorted(scheduler):
        if key not in wrappers:
            errors.append(
                f"param_scheduler.{key}: the schedulers are given per "
                f"optimizer wrapper ({', '.join(sorted(wrappers)) or 'none'})"
                f" and '{key}' is none of them; edit e.g. "
                f"param_scheduler.{example}.{key}... instead")


def check_config_keys(cfg: Config,
                      file_keys: Optional[Set[str]] = None,
                      cfg_options: Optional[dict] = None,
                      config_file: str = '') -> None:
    """Fail on config keys that would be silently ignored or fail late.

    mmengine ignores unknown top-level keys (a config may define helper
    variables such as ``train_pipeline``), so a misspelt ``trian_cfg``
    silently trains with the base schedule. Errors (all reported at once):

    - a top-level key, not read by the runner, within
      :data:`NEAR_MISS` similarity of one that is (keys starting with
      ``_`` are private helpers and never flagged);
    - a ``--cfg-options`` key whose top level is neither in the config file
      nor read by the runner (``max_epochs=5`` instead of
      ``train_cfg.max_epochs=5``);
    - a key of a ``model`` node that the class named by its ``type`` does
      not take (``model.backbone.dpeth``), checked against the class
      signature; mmengine would raise a ``TypeError`` only while building;
    - a key of a per-optimizer ``param_scheduler`` dict (no ``type``; MICS:
      ``generator`` / ``discriminator``) that names no optimizer wrapper of
      ``optim_wrapper``: mmengine ignores it, so a list-style edit such as
      ``param_scheduler.1.end=30`` would change nothing.

    Args:
        cfg (Config): The config after ``--cfg-options``.
        file_keys (set[str], optional): Top-level keys of the file before
            ``--cfg-options``. Defaults to the keys of ``cfg``.
        cfg_options (dict, optional): The ``--cfg-options``.
        config_file (str): Shown in the message.

    Raises:
        UsageError: Naming each key, the nearest known key and the fix.
    """
    known = runner_keys()
    allowed = known | set(OTHER_KNOWN_KEYS)
    file_keys = set(cfg.keys()) if file_keys is None else file_keys
    errors = []
    for key in sorted(file_keys):
        if key in allowed or key.startswith('_'):
            continue
        near = difflib.get_close_matches(key, known, n=1, cutoff=NEAR_MISS)
        if near:
            errors.append(f"top-level key '{key}' is not read by the runner"
                          + _hint(near[0]) + ' (a helper variable this '
                          'close to a runner key needs another name)')
    for key in sorted(cfg_options or {}):
        top = key.split('.')[0]
        if top not in file_keys and top not in allowed:
            tops = difflib.get_close_matches(
                top, sorted(file_keys | known), n=1, cutoff=0.6)
            near = tops[0] + key[len(top):] if tops else _nearest(
                key, _dotted_keys(cfg.to_dict()))
            errors.append(f"--cfg-options '{key}': the config has no "
                          f"top-level key '{top}' and the runner does not "
                          'read it' + _hint(near))
    if isinstance(cfg.get('model'), dict):
        _check_model_node(cfg.model, 'model',
                          cfg.get('default_scope') or 'mics_mm', errors)
    _check_scheduler_names(cfg, errors)
    if errors:
        where = f' in {config_file}' if config_file else ''
        raise UsageError(
            f'unknown config key(s){where} (fix the config file or the '
            '--cfg-options):\n  ' + '\n  '.join(errors))
