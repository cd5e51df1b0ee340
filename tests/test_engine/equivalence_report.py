"""Print how far 2 gloo processes are from 1 process in the runs of
``test_distributed_equivalence.py`` (its configs, data and driver): for
MICS and BrainMVP, each logged term's largest relative difference over the
4 steps and the final weights' relative difference; with SGD (the test's
optimizer) also the control with every step doubled.

    python tests/test_engine/equivalence_report.py [--adam] [--out DIR]

``--adam`` runs the configs' own Adam / AdamW instead, to show why the test
does not (docs/reliability.md, "1 vs 2 processes").
"""
import argparse
import os.path as osp
import sys
import tempfile

import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
import reliability_helpers as rh  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--adam', action='store_true',
                        help="the configs' Adam / AdamW instead of SGD")
    parser.add_argument('--out', help='work folder (default: a temporary one)')
    args = parser.parse_args()
    out = args.out or tempfile.mkdtemp(prefix='equivalence_')
    runs = rh.run_two_processes(out, sgd=not args.adam)
    torch.set_num_threads(1)  # as each of the 2 processes
    rows = []
    for name in ('mics', 'brainmvp'):
        diffs = rh.one_process_diffs(runs, name, osp.join(out, name))
        # the loss terms (not the logged counts / temperature)
        rows += [(name, term, diff, '')
                 for term, diff in diffs['terms'].items()
                 if term.startswith('loss')]
        rows.append((name, 'final weights', diffs['state'], ''))
        if not args.adam:
            control = rh.one_process_diffs(runs, name,
                                           osp.join(out, f'{name}_doubled'),
                                           rh.DOUBLED_LR[name])
            rows.append((name, 'loss, steps x 2', control['terms']['loss'],
                         '  (control)'))
    optimizer = 'Adam / AdamW' if args.adam else 'SGD'
    print(f'\n2 processes vs 1 ({optimizer}, torch {torch.__version__}); '
          'largest relative difference over the steps:')
    for name, term, diff, note in rows:
        print(f'  {name:9s} {term:18s} {diff:.2e}{note}')

if __name__ == '__main__':
    main()
