"""The parts of ``tools/benchmark/gpu_check.sh`` written in Python: the
device check it starts with, the demo data it trains on, and the report
(``gpu_check.json`` + ``gpu_check.md``) it ends with.

``python -m mics_mm.benchmark.gpu_check device OUT_DIR --mode gpu`` stops
(exit 2) unless torch can use a GPU: it names the torch build, the CUDA
version it was built for and the driver, and never falls back to the CPU
(the runs' ``SafeRunner`` does the same with ``DeviceUnusableError``).
``--mode smoke`` records the CPU environment instead. Either then writes
the SYNTHETIC demo data (``OUT_DIR/data``, with splits) in the same
process (one start-up less).

``python -m mics_mm.benchmark.gpu_check report OUT_DIR --mode gpu|smoke``
reads what the steps left in ``OUT_DIR`` (``steps.tsv``: name, exit
status, seconds, command per step; the timing JSON; the work dirs'
scalars, checkpoints and test metrics), checks it and writes the report;
exit status 1 when a check failed, each failure named.
"""
import argparse
import glob
import json
import math
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
from typing import Dict, List, Optional

__all__ = ['device_info', 'make_data', 'collect', 'markdown', 'main']

#: what mmengine 0.10.7 says when AmpOptimWrapper is built without an
#: accelerator (the smoke run's expected end of the packaged --amp step)
AMP_NEEDS_GPU = 'only available training on gpu'
#: the step logs that the report reads
STEPS = ('timing', 'pretrain_dist', 'finetune', 'test',
         'packaged_amp')


# --------------------------------------------------------------------------
# Device check and data
# --------------------------------------------------------------------------
def _driver() -> str:
    if not shutil.which('nvidia-smi'):
        return 'unknown (no nvidia-smi)'
    try:
        out = subprocess.run(
            ['nvidia-smi', '--query-gpu=driver_version,name',
             '--format=csv,noheader'],
            capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError) as err:
        return f'unknown ({err})'
    return out.splitlines()[0] if out else 'unknown (nvidia-smi: no GPU)'


def device_info() -> dict:
    """torch, its CUDA build, the driver, and whether CUDA works (a small
    matmul on the GPU) and NCCL is there."""
    import torch
    import torch.distributed as dist
    info = dict(
        torch=torch.__version__,
        torch_cuda=torch.version.cuda,
        driver=_driver(),
        cuda_available=torch.cuda.is_available(),
        device_count=torch.cuda.device_count(),
        nccl_available=dist.is_available() and dist.is_nccl_available(),
        cuda_visible_devices=os.environ.get('CUDA_VISIBLE_DEVICES'),
        python=sys.version.split()[0])
    if info['cuda_available']:
        try:
            x = torch.randn(256, 256, device='cuda')
            info['matmul_ok'] = bool(torch.isfinite(x @ x).all().item())
            info['device'] = torch.cuda.get_device_name(0)
            info['capability'] = '.'.join(
                map(str, torch.cuda.get_device_capability(0)))
            info['bf16_supported'] = torch.cuda.is_bf16_supported()
        except Exception as err:  # noqa: BLE001 (reported)
            info['matmul_ok'] = False
            info['cuda_error'] = f'{type(err).__name__}: {err}'
    else:
        try:
            torch.cuda.init()
        except Exception as err:  # noqa: BLE001 (the message is the point)
            info['cuda_error'] = str(err).strip().splitlines()[0]
    for name in ('mmengine', 'mmpretrain', 'mmcv'):
        try:
            info[name] = __import__(name).__version__
        except Exception:  # noqa: BLE001
            info[name] = None
    return info


def check_device(out_dir: str, mode: str) -> int:
    info = device_info()
    info['mode'] = mode
    os.makedirs(out_dir, exist_ok=True)
    with open(osp.join(out_dir, 'environment.json'), 'w') as f:
        json.dump(info, f, indent=2)
    print(json.dumps(info, indent=2))
    if mode == 'smoke':
        return 0
    problems = []
    if info['cuda_visible_devices'] is not None and \
            info['cuda_visible_devices'].strip() in ('', '-1'):
        problems.append('CUDA_VISIBLE_DEVICES hides every GPU')
    if not info['cuda_available']:
        problems.append(
            f'torch {info["torch"]} (built for CUDA {info["torch_cuda"]}) '
            f'cannot use a GPU; driver {info["driver"]}; torch says: '
            f'{info.get("cuda_error", "torch.cuda.is_available() is False")}')
    elif not info.get('matmul_ok'):
        problems.append(f'a matmul on the GPU failed: '
                        f'{info.get("cuda_error", "non-finite result")}')
    if not info['nccl_available']:
        problems.append('torch.distributed has no NCCL')
    if problems:
        print('gpu_check: CUDA is not usable, stopping (no CPU fallback): '
              + '; '.join(problems), file=sys.stderr)
        return 2
    return 0


def make_data(root: str, per_class: int, size: int) -> None:
    """The SYNTHETIC demo data (and its splits) the runs train on."""
    from mics_mm.datasets.splits import make_splits
    from mics_mm.testing.kvasir_demo import make_demo_kvasir
    if not osp.isfile(osp.join(root, 'README.txt')):
        make_demo_kvasir(root, per_class=per_class, size=size, seed=0)
    if not osp.isfile(osp.join(root, 'splits', 'train.json')):
        make_splits(root, seed=0)


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------
def _read_steps(out_dir: str) -> Dict[str, dict]:
    steps = {}
    path = osp.join(out_dir, 'steps.tsv')
    if osp.isfile(path):
        with open(path) as f:
            for line in f:
                parts = line.rstrip('\n').split('\t')
                if len(parts) < 4:
                    continue
                name, rc, seconds, command = parts[:4]
                steps[name] = dict(rc=int(rc), seconds=float(seconds),
                                   command=command,
                                   log=osp.join('logs', f'{name}.log'))
    return steps


def _log(out_dir: str, name: str) -> str:
    path = osp.join(out_dir, 'logs', f'{name}.log')
    if not osp.isfile(path):
        return ''
    with open(path, errors='replace') as f:
        return f.read()


def _finite(values: List[float]) -> bool:
    return bool(values) and all(
        isinstance(v, (int, float)) and math.isfinite(v) for v in values)


def _train_summary(work_dir: str) -> dict:
    """Iterations, losses and the optimizer wrappers' state of a run."""
    from mics_mm.apis import read_train_scalars
    out: dict = dict(work_dir=work_dir)
    try:
        records = read_train_scalars(work_dir)
    except (FileNotFoundError, ValueError) as err:
        out['error'] = str(err)
        return out
    losses = [r['loss'] for r in records]
    out.update(iterations=len(records), loss_first=losses[0] if losses
               else None, loss_last=losses[-1] if losses else None,
               losses_finite=_finite(losses))
    ckpts = sorted(glob.glob(osp.join(work_dir, '*.pth')))
    out['checkpoint'] = ckpts[-1] if ckpts else None
    if ckpts:
        import torch
        state = torch.load(ckpts[-1], map_location='cpu',
                           weights_only=False).get('optimizer', {})
        # AmpOptimWrapper saves its GradScaler state as 'loss_scaler'
        if 'state' in state or 'param_groups' in state:
            state = {'optimizer': state}
        out['optim_wrappers'] = {
            name: ('AmpOptimWrapper' if 'loss_scaler' in part else
                   'OptimWrapper') for name, part in state.items()
            if isinstance(part, dict)}
        out['loss_scale'] = {
            name: float(part['loss_scaler'].get('scale'))
            for name, part in state.items()
            if isinstance(part, dict) and 'loss_scaler' in part
            and part['loss_scaler'].get('scale') is not None}
    return out


def _backend(log: str) -> Optional[str]:
    found = re.findall(r"backend'?\s*[:=]\s*'?(nccl|gloo|mpi)", log)
    return found[-1] if found else None


def collect(out_dir: str, mode: str) -> dict:
    """Everything the steps left, checked; ``failures`` names what is
    wrong."""
    gpu = mode == 'gpu'
    steps = _read_steps(out_dir)
    result: dict = dict(mode=mode, steps=steps, failures=[])
    fail = result['failures'].append
    env_path = osp.join(out_dir, 'environment.json')
    if osp.isfile(env_path):
        with open(env_path) as f:
            result['environment'] = json.load(f)
    for name in STEPS:
        if name not in steps:
            fail(f'{name}: did not run')
        elif name != 'packaged_amp' and steps[name]['rc'] != 0:
            fail(f'{name}: exit status {steps[name]["rc"]} '
                 f'(see {steps[name]["log"]})')
    # (1) step time and memory
    timing_path = osp.join(out_dir, 'timing.json')
    if osp.isfile(timing_path):
        with open(timing_path) as f:
            timing = json.load(f)
        result['timing'] = timing
        for group, res in timing['groups'].items():
            for m, v in res['methods'].items():
                if 'error' in v:
                    fail(f'timing {group}/{m}: {v["error"]}')
                    continue
                numbers = [v['s_per_iter'], v['images_per_s']]
                if v.get('peak_mb') is not None:
                    numbers.append(v['peak_mb'])
                if not (_finite(numbers) and v['loss_finite']):
                    fail(f'timing {group}/{m}: a non-finite figure or loss')
                want = ['AmpOptimWrapper' if gpu else 'OptimWrapper']
                if v.get('optim_wrappers') != want:
                    fail(f'timing {group}/{m}: wrappers '
                         f'{v.get("optim_wrappers")}, wanted {want}')
    else:
        fail('timing: no timing.json')
    # (2) one-process tools/dist_train.sh
    pre = _train_summary(osp.join(out_dir, 'work', 'pretrain_dist'))
    log = _log(out_dir, 'pretrain_dist')
    pre['backend'] = _backend(log)
    pre['distributed'] = 'Distributed training: True' in log
    result['pretrain_dist'] = pre
    want_backend = 'nccl' if gpu else 'gloo'
    if 'error' in pre:
        fail(f'pretrain_dist: {pre["error"]}')
    else:
        if not pre['losses_finite']:
            fail('pretrain_dist: non-finite loss')
        if pre['backend'] != want_backend or not pre['distributed']:
            fail(f'pretrain_dist: backend {pre["backend"]} (distributed '
                 f'{pre["distributed"]}), wanted {want_backend}')
        wrappers = set(pre.get('optim_wrappers', {}).values())
        want = {'AmpOptimWrapper'} if gpu else {'OptimWrapper'}
        if set(pre.get('optim_wrappers', {})) != {'generator',
                                                  'discriminator'} \
                or wrappers != want:
            fail(f'pretrain_dist: optimizer wrappers '
                 f'{pre.get("optim_wrappers")}, wanted both parts {want}')
    # (3) fine-tune and test
    ft = _train_summary(osp.join(out_dir, 'work', 'finetune'))
    result['finetune'] = ft
    if 'error' in ft:
        fail(f'finetune: {ft["error"]}')
    else:
        if not ft['losses_finite']:
            fail('finetune: non-finite loss')
        want = 'AmpOptimWrapper' if gpu else 'OptimWrapper'
        if set(ft.get('optim_wrappers', {}).values()) != {want}:
            fail(f'finetune: optimizer wrapper {ft.get("optim_wrappers")}, '
                 f'wanted {want}')
    metrics_path = osp.join(out_dir, 'work', 'finetune', 'test_metrics.json')
    test: dict = dict(metrics_file=metrics_path,
                      autocast='fp16' if gpu else 'bf16 (CPU)')
    if osp.isfile(metrics_path):
        with open(metrics_path) as f:
            metrics = json.load(f)
        test['metrics'] = {
            k: v for k, v in metrics.items() if isinstance(v, (int, float))
        }
        for key in ('accuracy', 'f1_macro'):
            if not _finite([metrics.get(key)]):
                fail(f'test: {key} missing or not finite')
    else:
        fail('test: no test_metrics.json')
    result['test'] = test
    # packaged mmpretrain train.py --amp with MICS's two optimizers
    pk = dict(expected='trains with AmpOptimWrapper on both parts' if gpu
              else f'stops with mmengine\'s "{AMP_NEEDS_GPU}" (no GPU)')
    log = _log(out_dir, 'packaged_amp')
    rc = steps.get('packaged_amp', {}).get('rc')
    pk['rc'] = rc
    pk['top_level_amp_applied'] = ('PartwiseOptimWrapperConstructor: '
                                   'top-level' in log)
    if gpu:
        pk.update(_train_summary(osp.join(out_dir, 'work', 'packaged_amp')))
        ok = rc == 0 and set(pk.get('optim_wrappers', {}).values()) == {
            'AmpOptimWrapper'} and pk.get('losses_finite', False)
    else:
        ok = rc not in (None, 0) and AMP_NEEDS_GPU in log and \
            pk['top_level_amp_applied']
    pk['ok'] = ok
    result['packaged_amp'] = pk
    if not ok:
        fail(f'packaged_amp: not as expected ({pk["expected"]}; exit '
             f'status {rc}, see logs/packaged_amp.log)')
    result['total_seconds'] = sum(s['seconds'] for s in steps.values())
    result['ok'] = not result['failures']
    return result


def _f(value, spec: str = '.3f') -> str:
    return '-' if value is None else format(value, spec)


def markdown(result: dict) -> str:
    from mics_mm.benchmark.gpu_timing import markdown as timing_markdown
    env = result.get('environment', {})
    mode = result['mode']
    lines = [
        '# GPU check (' + ('SMOKE run on the CPU' if mode == 'smoke' else
                           'GPU') + ')',
        '',
        f'{"PASSED" if result["ok"] else "FAILED"} (steps: '
        f'{result["total_seconds"]:.0f} s). torch {env.get("torch")} (CUDA '
        f'{env.get("torch_cuda")}), driver {env.get("driver")}, device '
        f'{env.get("device", "cpu")}, mmengine {env.get("mmengine")}, '
        f'mmpretrain {env.get("mmpretrain")}.', ''
    ]
    if result['failures']:
        lines += ['Failures:', ''] + [f'- {x}' for x in result['failures']]
        lines.append('')
    lines += ['| step | exit | seconds |', '| --- | --- | --- |']
    for name, s in result['steps'].items():
        lines.append(f'| {name} | {s["rc"]} | {s["seconds"]:.1f} |')
    lines.append('')
    if 'timing' in result:
        lines += ['## Step time and memory', '',
                  timing_markdown(result['timing'])]
    pre, ft = result.get('pretrain_dist', {}), result.get('finetune', {})
    lines += [
        '## Training and testing through the tools', '',
        f'- `tools/dist_train.sh` (1 process): backend {pre.get("backend")}'
        f', {pre.get("iterations")} iterations, loss '
        f'{_f(pre.get("loss_first"))}'
        f' -> {_f(pre.get("loss_last"))}, wrappers '
        f'{pre.get("optim_wrappers")}, loss scale {pre.get("loss_scale")}.',
        f'- fine-tune (`tools/train.py`): {ft.get("iterations")} iterations, '
        f'loss {_f(ft.get("loss_last"))}, wrappers '
        f'{ft.get("optim_wrappers")}.',
        f'- `tools/test.py` with `test_cfg.fp16=True` (autocast '
        f'{result.get("test", {}).get("autocast")}): '
        + ', '.join(f'{k} {_f(v)}' for k, v in result.get('test', {}).get(
            'metrics', {}).items() if k in ('accuracy', 'f1_macro',
                                            'auc_macro')) + '.',
        '- mmpretrain\'s packaged `train.py --amp` on the MICS config: '
        + ('as expected' if result.get('packaged_amp', {}).get('ok') else
           'NOT as expected') +
        f' ({result.get("packaged_amp", {}).get("expected")}).', ''
    ]
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('action', choices=['device', 'report'])
    parser.add_argument('out_dir')
    parser.add_argument('--mode', choices=['gpu', 'smoke'], default='gpu')
    parser.add_argument('--per-class', type=int, default=4)
    parser.add_argument('--size', type=int, default=64)
    args = parser.parse_args(argv)
    if args.action == 'device':
        rc = check_device(args.out_dir, args.mode)
        if rc == 0:
            make_data(osp.join(args.out_dir, 'data'), args.per_class,
                      args.size)
        return rc
    result = collect(args.out_dir, args.mode)
    with open(osp.join(args.out_dir, 'gpu_check.json'), 'w') as f:
        json.dump(result, f, indent=2)
    text = markdown(result)
    with open(osp.join(args.out_dir, 'gpu_check.md'), 'w') as f:
        f.write(text)
    print(text)
    return 0 if result['ok'] else 1


if __name__ == '__main__':
    sys.exit(main())
