"""Install mics_mm: ``pip install -e .`` (after requirements/*.txt)."""
import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup

# What OpenMMLab's `mim` reads from an installed package's `.mim` folder.
MIM_FILES = ('configs', 'tools', 'model-index.yml')


def read_requirements(fname):
    """Read a requirements file, following ``-r`` includes."""
    reqs = []
    with open(fname) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            if line.startswith('-r'):
                reqs += read_requirements(
                    osp.join(osp.dirname(fname), line[2:].strip()))
            else:
                reqs.append(line)
    return reqs


def add_mim_extension(mode=None, repo=None, package='mics_mm'):
    """Put configs/, tools/ and model-index.yml into ``<package>/.mim``.

    This is how `mim` (``mim search mics_mm``, ``mim train mics_mm CONFIG``)
    finds them. An editable install (``pip install -e .``: setuptools'
    ``develop`` or ``editable_wheel``) gets relative symlinks, so edits show
    at once; building a wheel or sdist copies them; other setup commands
    leave the folder alone.

    Args:
        mode (str, optional): ``'symlink'`` or ``'copy'``; None: chosen from
            the setup command in ``sys.argv``. Defaults to None.
        repo (str, optional): Repository root. Defaults to this file's
            folder.
        package (str): Package folder. Defaults to 'mics_mm'.

    Returns:
        str or None: The ``.mim`` folder, or None when nothing was done.
    """
    if mode is None:
        if {'develop', 'editable_wheel'} & set(sys.argv):
            mode = 'symlink'
        elif {'bdist_wheel', 'sdist'} & set(sys.argv):
            mode = 'copy'
        else:
            return None
    if mode not in ('symlink', 'copy'):
        raise ValueError(f'add_mim_extension: mode must be symlink or copy, '
                         f'got {mode!r}')
    repo = repo or osp.dirname(osp.abspath(__file__))
    mim = osp.join(repo, package, '.mim')
    os.makedirs(mim, exist_ok=True)
    for name in MIM_FILES:
        src = osp.join(repo, name)
        dst = osp.join(mim, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if not osp.exists(src):
            continue
        if mode == 'symlink':
            os.symlink(osp.relpath(src, mim), dst)
        elif osp.isdir(src):
            shutil.copytree(
                src, dst,
                ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        else:
            shutil.copyfile(src, dst)
    return mim


def get_version():
    scope = {}
    with open(osp.join('mics_mm', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='mics_mm',
        version=get_version(),
        description='Multimodal self-supervised pre-training for medical '
        'images (MICS, BrainMVP) as OpenMMLab plugins',
        long_description=open('README.md').read(),
        long_description_content_type='text/markdown',
        packages=find_packages(exclude=('configs', 'tools', 'tests', 'docs')),
        # mim's files (add_mim_extension) travel inside the package.
        include_package_data=True,
        package_data={'mics_mm': ['.mim/**/*', '.mim/*']},
        python_requires='>=3.9',
        install_requires=read_requirements('requirements/runtime.txt') +
        read_requirements('requirements/mminstall.txt'),
        extras_require=dict(
            tests=read_requirements('requirements/tests.txt'),
            optional=read_requirements('requirements/optional.txt')),
        license='Apache-2.0',
        zip_safe=False)
