"""Pure-PyTorch stand-in for ``mmcv.ops`` when mmcv's compiled ops are absent.

``mmcv-lite`` ships the Python sources of ``mmcv.ops`` but not the compiled
extension ``mmcv._ext``, so ``import mmcv.ops`` fails. mmsegmentation imports
a few ops at module level (``point_sample``, ``sigmoid_focal_loss``, ...),
which makes ``import mmseg.models`` fail as a whole, even for models that
never use those ops.

:func:`install_if_needed` (called by :mod:`mics_mm.seg` before it imports
mmsegmentation) puts this module in ``sys.modules['mmcv.ops']`` when, and
only when, mmcv is installed without its compiled extension ``mmcv._ext``;
nothing else of the package imports it, so pure mmpretrain use never sees
it. It provides:

- :func:`point_sample`, a pure-PyTorch implementation with mmcv's semantics;
- a placeholder for every other public name of ``mmcv.ops`` (and any other
  name asked for): it imports fine, ``isinstance`` checks against it are
  simply ``False``, and calling or instantiating it raises
  :class:`MissingCompiledOpError` with a clear message;
- submodules such as ``mmcv.ops.multi_scale_deform_attn``, which resolve
  their names the same way (so ``mmcv.ops.point_sample.point_sample`` is the
  real function and the rest are placeholders).
"""
import ast
import importlib.abc
import importlib.machinery
import importlib.util
import os
import os.path as osp
import sys
import types
from typing import Any, Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F

__all__ = [
    'MissingCompiledOpError', 'point_sample', 'install', 'install_if_needed',
    'is_installed', 'compiled_ops_available'
]

# Names the pinned stack imports from ``mmcv.ops`` (mmseg 1.2.2 and mmengine
# 0.10.7). They are always defined, even if mmcv's own ``__all__`` cannot be
# read.
_KNOWN_NAMES = (
    'point_sample', 'sigmoid_focal_loss', 'CrissCrossAttention', 'PSAMask',
    'DeformConv2d', 'ModulatedDeformConv2d', 'SyncBatchNorm',
    'MultiScaleDeformableAttention')

# Marks this module (and the submodules it creates) as the fallback.
__mics_mmcv_ops_fallback__ = True

# ``mmcv.ops`` must look like a package so that ``import mmcv.ops.x`` works;
# the submodules themselves come from ``_SubmoduleFinder`` below.
__path__: List[str] = []


class MissingCompiledOpError(RuntimeError):
    """Raised when a compiled ``mmcv.ops`` operator is used under mmcv-lite."""


def _message(name: str) -> str:
    return (f'mmcv.ops.{name} needs the compiled mmcv; install full '
            'mmcv==2.1.0 (see docs/install.md) or choose a model without '
            f'{name}.')


def point_sample(input: torch.Tensor,
                 points: torch.Tensor,
                 align_corners: bool = False,
                 **kwargs) -> torch.Tensor:
    """Sample ``input`` at points given in normalised ``[0, 1]`` coordinates.

    Same contract as ``mmcv.ops.point_sample``: points are ``(x, y)`` pairs in
    ``[0, 1] x [0, 1]`` (``(0, 0)`` is the top-left corner), values are read
    with :func:`torch.nn.functional.grid_sample` (bilinear, zero padding by
    default).

    Args:
        input (torch.Tensor): Feature map of shape (N, C, H, W).
        points (torch.Tensor): Points of shape (N, P, 2) or
            (N, Hgrid, Wgrid, 2), in ``[0, 1]`` coordinates.
        align_corners (bool): Passed to ``grid_sample``. Defaults to False.
        **kwargs: Further arguments of ``grid_sample`` (``mode``,
            ``padding_mode``).

    Returns:
        torch.Tensor: Sampled features of shape (N, C, P) or
        (N, C, Hgrid, Wgrid).
    """
    flat = points.dim() == 3
    grid = points.unsqueeze(2) if flat else points
    # grid_sample expects coordinates in [-1, 1].
    out = F.grid_sample(
        input, grid * 2.0 - 1.0, align_corners=align_corners, **kwargs)
    return out.squeeze(3) if flat else out


class _MissingOpMeta(type):
    """Metaclass that turns attribute access on a placeholder into a clear
    error (e.g. ``SomeFunction.apply``) while keeping ``getattr(x, name,
    default)`` and ``hasattr`` working."""

    def __getattr__(cls, attr: str) -> Any:
        raise AttributeError(
            f'{attr!r} is not available: ' + _message(cls.__name__))


class _MissingOp(metaclass=_MissingOpMeta):
    """Base of the placeholders; instantiating or calling one raises."""

    def __new__(cls, *args, **kwargs):
        raise MissingCompiledOpError(_message(cls.__name__))


_placeholders: Dict[str, type] = {}


def _placeholder(name: str) -> type:
    """Return the (cached) placeholder class for ``mmcv.ops.<name>``."""
    if name not in _placeholders:
        _placeholders[name] = _MissingOpMeta(
            name, (_MissingOp, ), {
                '__module__': 'mmcv.ops',
                '__doc__': f'Placeholder: {_message(name)}'
            })
    return _placeholders[name]


def _mmcv_ops_dir() -> Optional[str]:
    spec = importlib.util.find_spec('mmcv')
    if spec is None or not spec.submodule_search_locations:
        return None
    ops_dir = osp.join(list(spec.submodule_search_locations)[0], 'ops')
    return ops_dir if osp.isdir(ops_dir) else None


def _mmcv_ops_all() -> List[str]:
    """Read ``__all__`` of the real ``mmcv/ops/__init__.py`` without importing
    it (importing is what fails)."""
    ops_dir = _mmcv_ops_dir()
    if ops_dir is None:
        return []
    try:
        with open(osp.join(ops_dir, '__init__.py'), encoding='utf-8') as f:
            tree = ast.parse(f.read())
    except (OSError, SyntaxError):
        return []
    names: List[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == '__all__'
                for t in node.targets):
            try:
                names.extend(ast.literal_eval(node.value))
            except ValueError:
                pass
    return [n for n in names if isinstance(n, str)]


def _resolve(name: str) -> Any:
    """Value of ``mmcv.ops.<name>`` (or of a submodule's ``<name>``)."""
    if name.startswith('_'):  # mmcv.ops has no private API to stand in for
        raise AttributeError(f'mmcv.ops has no attribute {name!r}')
    if name == 'point_sample':
        return point_sample
    return _placeholder(name)


def __getattr__(name: str) -> Any:
    # PEP 562: any other public name resolves to a placeholder.
    return _resolve(name)


def _define_names(names: Sequence[str]) -> None:
    module = sys.modules[__name__]
    for name in names:
        if name not in vars(module):
            setattr(module, name, _resolve(name))


class _SubmoduleLoader(importlib.abc.Loader):
    """Creates ``mmcv.ops.<sub>`` modules that resolve names like the
    fallback package itself."""

    def create_module(
            self,
            spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = types.ModuleType(spec.name)
        module.__getattr__ = _resolve  # type: ignore[attr-defined]
        module.__mics_mmcv_ops_fallback__ = True  # type: ignore
        if spec.name.rsplit('.', 1)[-1] == 'point_sample':
            module.point_sample = point_sample  # type: ignore
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        pass


class _SubmoduleFinder(importlib.abc.MetaPathFinder):
    """Finds ``mmcv.ops.<sub>`` while the fallback is installed."""

    def __init__(self) -> None:
        ops_dir = _mmcv_ops_dir()
        self.known = None if ops_dir is None else {
            osp.splitext(f)[0]
            for f in os.listdir(ops_dir) if f.endswith('.py')
        }

    def find_spec(
            self,
            fullname: str,
            path: Optional[Sequence[str]] = None,
            target: Optional[types.ModuleType] = None
    ) -> Optional[importlib.machinery.ModuleSpec]:
        if not fullname.startswith('mmcv.ops.') or not is_installed():
            return None
        sub = fullname[len('mmcv.ops.'):]
        if '.' in sub or (self.known is not None and sub not in self.known):
            return None
        return importlib.machinery.ModuleSpec(fullname, _SubmoduleLoader())


def is_installed() -> bool:
    """Whether ``sys.modules['mmcv.ops']`` is this fallback."""
    return getattr(sys.modules.get('mmcv.ops'), '__mics_mmcv_ops_fallback__',
                   False)


def install() -> bool:
    """Install this module as ``mmcv.ops`` (idempotent).

    The caller decides whether the compiled ops are missing; this function
    only refuses to replace a real ``mmcv.ops`` that is already imported.

    Returns:
        bool: True if the fallback is installed after the call.
    """
    if is_installed():
        return True
    if 'mmcv.ops' in sys.modules:  # the real one imported fine
        return False
    import mmcv
    _define_names(_KNOWN_NAMES + tuple(_mmcv_ops_all()))
    module = sys.modules[__name__]
    sys.modules['mmcv.ops'] = module
    mmcv.ops = module  # type: ignore[attr-defined]
    finder = next(
        (f for f in sys.meta_path if isinstance(f, _SubmoduleFinder)), None)
    if finder is None:
        finder = _SubmoduleFinder()
        sys.meta_path.append(finder)
    # Importing a submodule binds it on its parent, so a later
    # ``import mmcv.ops.point_sample`` would replace the function
    # ``mmcv.ops.point_sample`` by the module. Submodules named like a
    # function or class of mmcv.ops are therefore created up front: imports
    # of modules already in ``sys.modules`` do not rebind the parent.
    for sub in sorted((finder.known or set()) & set(vars(module))):
        name = f'mmcv.ops.{sub}'
        if name not in sys.modules:
            spec = finder.find_spec(name)
            sys.modules[name] = importlib.util.module_from_spec(spec)
    return True


def compiled_ops_available() -> Optional[bool]:
    """True/False whether ``mmcv._ext`` exists; None if mmcv is absent."""
    if importlib.util.find_spec('mmcv') is None:
        return None
    return importlib.util.find_spec('mmcv._ext') is not None


def install_if_needed() -> bool:
    """Install the stand-in when mmcv lacks its compiled ops (mmcv-lite).

    Returns:
        bool: True if the stand-in is ``mmcv.ops`` after the call.
    """
    if compiled_ops_available() is not False:
        return False
    return install()
