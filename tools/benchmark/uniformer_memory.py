"""Peak CPU memory of one training step of ``UniFormer3D``, with and without
activation checkpointing (``with_cp``).

A step is a forward and backward pass in training mode (no
``torch.no_grad``): the backbone alone (loss: mean square of the requested
stage outputs) or, with ``--decoder``, the backbone and the linear
reconstruction decoder (``BrainMVPLinearDecoder3D``, MSE to the input),
as BrainMVP's reconstruction branch. Each setting runs in a fresh Python
process, which reports its peak resident set (``ru_maxrss``) and its
resident set just before the step (model, input and imports), so the
difference is what the step itself needs: activations kept for the
backward pass and gradients.

Examples::

    python tools/benchmark/uniformer_memory.py --size 96 --batch 2
    python tools/benchmark/uniformer_memory.py --size 96 --batch 2 --with-cp
    python tools/benchmark/uniformer_memory.py --size 96 --batch 2 \\
        --compare --decoder --out work_dirs/bench/uniformer_memory.json

The figures quoted in docs/methods.md, "BrainMVP: architecture" come from
``--compare``.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Dict, List, Optional


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--size', type=int, default=96,
                        help='edge of the cubic input patch (default 96)')
    parser.add_argument('--batch', type=int, default=2,
                        help='batch size (default 2)')
    parser.add_argument('--in-channels', type=int, default=1,
                        help='input channels (default 1, as the release)')
    parser.add_argument('--arch', default='s',
                        help="UniFormer3D arch (default 's')")
    parser.add_argument('--patch-strides', type=int, nargs=4, default=None,
                        help="patch embedding strides (default: the arch's;"
                        ' 4 2 2 2 is the stride-4 stem)')
    parser.add_argument('--with-cp', action='store_true',
                        help='activation checkpointing in every stage')
    parser.add_argument('--compare', action='store_true',
                        help='measure without and with --with-cp')
    parser.add_argument('--decoder', action='store_true',
                        help='add the linear decoder and an MSE to the input')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads (default: torch default)')
    parser.add_argument('--out', default=None, help='also write the JSON here')
    parser.add_argument('--worker', action='store_true',
                        help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _rss_mib() -> float:
    """Current resident set in MiB (Linux), else the peak so far."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return _peak_mib()


def _peak_mib() -> float:
    """Peak resident set of this process in MiB (``ru_maxrss``)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # KiB on Linux, bytes on macOS
    return peak / (1024 * 1024 if sys.platform == 'darwin' else 1024)


def measure(args: argparse.Namespace) -> Dict:
    """One training step in this process; returns its memory figures."""
    import torch
    import torch.nn.functional as F

    from mics_mm.models.backbones import UniFormer3D
    from mics_mm.models.necks import BrainMVPLinearDecoder3D

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    backbone = UniFormer3D(
        arch=args.arch,
        in_channels=args.in_channels,
        patch_strides=args.patch_strides,
        with_cp=args.with_cp)
    decoder = None
    if args.decoder:
        total = 1
        for s in backbone.patch_strides:
            total *= s
        steps = total.bit_length() - 1
        if total != 2**steps:
            raise SystemExit('--decoder needs a power-of-two total stride, '
                             f'got {total}')
        # the release's channels, halving further for deeper strides
        channels = ((320, 128, 64, 64) + (32, 16, 8, 8, 8))[:steps]
        decoder = BrainMVPLinearDecoder3D(
            in_channels=backbone.widths[-1],
            channels=channels,
            out_channels=args.in_channels)
    modules = [backbone] + ([decoder] if decoder is not None else [])
    n_params = sum(p.numel() for m in modules for p in m.parameters())
    for m in modules:
        m.train()
    x = torch.randn(args.batch, args.in_channels, args.size, args.size,
                    args.size)
    before = _rss_mib()
    start = time.perf_counter()
    feats = backbone(x)
    if decoder is not None:
        loss = F.mse_loss(decoder(feats), x)
    else:
        loss = sum(f.pow(2).mean() for f in feats)
    loss.backward()
    seconds = time.perf_counter() - start
    peak = _peak_mib()
    return dict(
        arch=args.arch,
        patch_strides=list(backbone.patch_strides),
        size=args.size,
        batch=args.batch,
        in_channels=args.in_channels,
        decoder=bool(args.decoder),
        with_cp=bool(args.with_cp),
        params=n_params,
        threads=torch.get_num_threads(),
        rss_before_mib=round(before, 1),
        peak_rss_mib=round(peak, 1),
        step_mib=round(peak - before, 1),
        step_seconds=round(seconds, 2))


def run_worker(args: argparse.Namespace, with_cp: bool) -> Dict:
    """Measure one setting in a fresh Python process."""
    cmd = [
        sys.executable, os.path.abspath(__file__), '--worker', '--size',
        str(args.size), '--batch',
        str(args.batch), '--in-channels',
        str(args.in_channels), '--arch', args.arch
    ]
    if args.patch_strides:
        cmd += ['--patch-strides', *map(str, args.patch_strides)]
    if with_cp:
        cmd.append('--with-cp')
    if args.decoder:
        cmd.append('--decoder')
    if args.threads:
        cmd += ['--threads', str(args.threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        # killed for memory shows as -9: say so instead of a traceback
        return dict(with_cp=with_cp, error=f'exit code {proc.returncode}',
                    stderr=proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: Optional[List[str]] = None) -> None:
    """Entry point."""
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(measure(args)))
        return
    settings = (False, True) if args.compare else (args.with_cp, )
    results = [run_worker(args, cp) for cp in settings]
    if args.compare:  # a JSON list, one setting per line
        text = '[\n' + ',\n'.join(json.dumps(r) for r in results) + '\n]'
    else:
        text = json.dumps(results[0])
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            f.write(text + '\n')


if __name__ == '__main__':
    main()
