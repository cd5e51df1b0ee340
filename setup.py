"""Install mics_mm: ``pip install -e .`` (after requirements/*.txt)."""
import os.path as osp

from setuptools import find_packages, setup


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


def get_version():
    scope = {}
    with open(osp.join('mics_mm', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='mics_mm',
    version=get_version(),
    description='Multimodal self-supervised pre-training for medical images '
    '(MICS, BrainMVP) as OpenMMLab plugins',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'docs')),
    python_requires='>=3.9',
    install_requires=read_requirements('requirements/runtime.txt') +
    read_requirements('requirements/mminstall.txt'),
    extras_require=dict(tests=read_requirements('requirements/tests.txt')),
    license='Apache-2.0',
    zip_safe=False)
