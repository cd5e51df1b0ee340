"""Data generators for tests and demos (as :mod:`mmengine.testing`).

Not imported by ``import mics_mm``; import the module you need:

- :mod:`.kvasir_demo`: the SYNTHETIC Kvasir-layout stand-in of ``make demo``;
- :mod:`.brain_demo`: the real-brain demo set (MNI152 with derived subjects
  and simulated contrasts) of ``make demo-brainmvp``;
- :mod:`.fashion_mnist`: SYNTHETIC Fashion-MNIST idx files for the learning
  check's tests;
- :mod:`.bad_inputs`: the corpus of broken inputs the loaders must reject
  or repair.
"""
