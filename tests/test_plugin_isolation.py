"""Importing mics_mm changes nothing of torch, mmengine or mmcv.

Each check runs in a fresh interpreter: the stack is imported, the objects a
plugin could patch are recorded, ``mics_mm`` is imported, and every object
must be the very same one afterwards (identity, not equality).
"""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# end-to-end / subprocess / multi-process: `make test`, not `make test-fast`
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]

SNAPSHOT = textwrap.dedent("""
    import importlib.util, json, sys
    import torch, torch.serialization
    import mmengine, mmengine.dist.utils as du, mmengine.runner as rp
    import mmengine.runner.checkpoint as ck, mmengine.runner.runner as rr
    from mmengine.hooks import CheckpointHook
    from mmengine.runner import CheckpointLoader, Runner
    from mmengine.fileio.backends import backends as file_backends
    import mmcv, mmpretrain.models, mmpretrain.datasets

    def snapshot():
        objs = {
            'torch.load': torch.load,
            'torch.save': torch.save,
            'torch.cuda.set_device': torch.cuda.set_device,
            'mmengine.runner.checkpoint.save_checkpoint': ck.save_checkpoint,
            'mmengine.runner.runner.save_checkpoint': rr.save_checkpoint,
            'mmengine.runner.save_checkpoint': rp.save_checkpoint,
            'CheckpointHook._save_checkpoint_with_step':
                CheckpointHook._save_checkpoint_with_step,
            'Runner.load_checkpoint': Runner.load_checkpoint,
            'Runner.setup_env': Runner.setup_env,
        }
        for name in ('init_dist', '_init_dist_pytorch', '_init_dist_slurm',
                     '_init_dist_mpi'):
            objs['mmengine.dist.utils.' + name] = getattr(du, name)
        for prefix, fn in CheckpointLoader._schemes.items():
            objs['CheckpointLoader[%r]' % prefix] = fn
        for name, cls in file_backends.items():
            objs['file backend %s' % name] = cls
        out = {k: id(v) for k, v in objs.items()}
        out['mmcv.ops in sys.modules'] = 'mmcv.ops' in sys.modules
        spec = importlib.util.find_spec('mmcv.ops')
        out['mmcv.ops spec'] = spec.origin if spec else None
        out['safe globals'] = sorted(
            str(g) for g in torch.serialization.get_safe_globals())
        out['meta_path'] = [type(f).__name__ for f in sys.meta_path]
        return out

    before = snapshot()
    import IMPORTED  # noqa
    after = snapshot()
    print(json.dumps(dict(before=before, after=after)))
""")


def _compare(imported: str):
    script = SNAPSHOT.replace('IMPORTED', imported)
    proc = subprocess.run([sys.executable, '-c', script], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return result['before'], result['after']


def test_import_mics_mm_leaves_the_stack_untouched():
    before, after = _compare('mics_mm')
    # the new backend name is added, nothing existing is replaced
    added = {k for k in after if k not in before}
    assert added == {'file backend atomic_local'}, added
    changed = {k for k in before if before[k] != after[k]}
    assert not changed, changed
    assert after['mmcv.ops in sys.modules'] is False


def test_import_mics_mm_seg_only_adds_the_mmcv_ops_stand_in():
    """mics_mm.seg installs the mmcv.ops stand-in, and only when mmcv's
    compiled ops are missing; torch and mmengine stay as they were."""
    import importlib.util
    lite = importlib.util.find_spec('mmcv._ext') is None
    before, after = _compare('mics_mm.seg')
    changed = {k for k in before if before[k] != after[k]}
    expected = {'mmcv.ops in sys.modules', 'mmcv.ops spec', 'meta_path'
                } if lite else {'mmcv.ops in sys.modules'}
    # importing mmseg imports (the real or the stand-in) mmcv.ops
    assert changed <= expected, changed - expected
    assert after['mmcv.ops in sys.modules'] is True
    if not lite:
        pytest.skip('full mmcv: the real mmcv.ops is used')
