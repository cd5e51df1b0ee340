"""Every command the documentation shows can be typed as it stands.

For each ``python tools/...`` / ``bash tools/...`` command in the shell
blocks of README.md, the configs' READMEs and docs/*.md: the script exists,
every config / tool path it names exists, and every ``--flag`` given to a
Python tool is one its argparse accepts. ``make`` targets named in the
README exist in the Makefile.

The flags a tool accepts are read statically (every ``add_argument('--x')``
of the script and of the ``mics_mm`` modules it imports), which takes no
import of torch; one slow test checks that reading against the tools'
own ``--help``.
"""
import ast
import functools
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / 'README.md', *sorted(REPO.glob('configs/*/README.md')),
        *sorted(REPO.glob('docs/*.md'))]
PATH = re.compile(r'^(configs|tools)/[\w./{},*-]+\.(py|sh)$')


def shell_blocks(text: str):
    """The lines of the ```bash / ```sh / ``` blocks, continuations joined,
    comments dropped."""
    for block in re.findall(r'```(?:bash|sh|shell)?\n(.*?)```', text, re.S):
        joined = re.sub(r'\\\n\s*', ' ', block)
        for line in joined.splitlines():
            line = line.split(' #')[0].strip()
            if line and not line.startswith('#'):
                yield line


def commands():
    """(doc, command tokens) of every tool command."""
    found = []
    for doc in DOCS:
        for line in shell_blocks(doc.read_text()):
            for part in re.split(r'\s*(?:&&|;|\|)\s*', line):
                try:
                    tokens = shlex.split(part)
                except ValueError:
                    continue
                while tokens and re.match(r'^\w+=', tokens[0]):
                    tokens = tokens[1:]  # VAR=value prefixes
                if len(tokens) >= 2 and tokens[0] in (
                        'python', 'python3', 'bash') and \
                        tokens[1].startswith('tools/'):
                    found.append((doc.relative_to(REPO).as_posix(), tokens))
    return found


COMMANDS = commands()


def _module_file(name: str):
    parts = name.split('.')
    for cand in (REPO.joinpath(*parts).with_suffix('.py'),
                 REPO.joinpath(*parts, '__init__.py')):
        if cand.is_file():
            return cand
    return None


@functools.lru_cache(maxsize=None)
def _flags_in(path: Path) -> frozenset:
    """``--flags`` of the add_argument calls in ``path`` and in the
    mics_mm modules it imports (transitively)."""
    tree = ast.parse(path.read_text())
    flags, imported = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(
                node.func, 'attr', None) == 'add_argument':
            flags |= {
                a.value
                for a in node.args if isinstance(a, ast.Constant)
                and isinstance(a.value, str) and a.value.startswith('--')
            }
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ''
            if node.level:  # relative: from the importing file's package
                package = path.parent.relative_to(REPO).parts
                package = package[:len(package) - node.level + 1]
                module = '.'.join([*package, module] if module else package)
            if module.startswith('mics_mm'):
                imported.add(module)
                imported |= {f'{module}.{a.name}' for a in node.names}
    for name in imported:
        module = _module_file(name)
        if module is not None and module != path:
            flags |= _flags_in(module)
    return frozenset(flags | {'--help'})


def accepted_flags(script: str) -> frozenset:
    return _flags_in(REPO / script)


def help_flags(script: str) -> frozenset:
    out = subprocess.run([sys.executable, script, '--help'],
                         cwd=REPO, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, (script, out.stderr[-2000:])
    return frozenset(re.findall(r'(--[\w-]+)', out.stdout))


def expand(path: str):
    """``a_{x,y}.py`` -> both names; ``*`` globbed."""
    brace = re.search(r'\{([^}]*)\}', path)
    if brace:
        for alt in brace.group(1).split(','):
            yield from expand(path[:brace.start()] + alt +
                              path[brace.end():])
    elif '*' in path:
        yield from (p.relative_to(REPO).as_posix()
                    for p in REPO.glob(path)) or [path]
    else:
        yield path


def test_the_docs_show_tool_commands():
    assert len(COMMANDS) > 40
    assert any(t[1] == 'tools/train.py' for _, t in COMMANDS)


@pytest.mark.parametrize('doc,tokens', COMMANDS,
                         ids=[f'{d}:{" ".join(t[:3])}' for d, t in COMMANDS])
def test_command_names_what_exists(doc, tokens):
    script = tokens[1]
    assert (REPO / script).is_file(), f'{doc}: no {script}'
    for tok in tokens[2:]:
        value = tok.split('=', 1)[-1]
        if PATH.match(value) and '$' not in value:
            for path in expand(value):
                assert (REPO / path).exists(), f'{doc}: {" ".join(tokens)}: '\
                    f'no {path}'


PY_COMMANDS = [(d, t) for d, t in COMMANDS if t[1].endswith('.py')]


@pytest.mark.parametrize('doc,tokens', PY_COMMANDS,
                         ids=[f'{d}:{" ".join(t[:3])}' for d, t in PY_COMMANDS])
def test_command_flags_are_accepted(doc, tokens):
    accepted = accepted_flags(tokens[1])
    flags = []
    options = False
    for tok in tokens[2:]:
        if tok.startswith('--'):
            options = tok in ('--cfg-options', '--options')
            flags.append(tok.split('=', 1)[0])
        elif options:
            continue  # key=value pairs of --cfg-options
    unknown = [f for f in flags if f not in accepted]
    assert not unknown, f'{doc}: {" ".join(tokens)}: {unknown} not ' \
        f'accepted by {tokens[1]}'


def test_make_targets_exist():
    makefile = (REPO / 'Makefile').read_text()
    targets = set(re.findall(r'^([\w-]+):', makefile, re.M))
    readme = (REPO / 'README.md').read_text()
    named = set(re.findall(r'`make ([\w-]+)`', readme))
    for line in shell_blocks(readme):
        if line.startswith('make '):
            named.add(line.split()[1])
    assert named and named <= targets, named - targets


def test_a_wrong_flag_is_caught():
    """The check can fail: a flag no tool has is reported."""
    assert '--no-such-flag' not in accepted_flags('tools/train.py')
    assert '--work-dir' in accepted_flags('tools/train.py')


@pytest.mark.slow
@pytest.mark.parametrize('script', [
    'tools/train.py', 'tools/test.py', 'tools/benchmark/label_efficiency.py'
])
def test_static_flags_are_what_help_lists(script):
    assert accepted_flags(script) == help_flags(script)
