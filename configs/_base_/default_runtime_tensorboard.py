# default_runtime.py with a TensorBoard backend beside the local one: the
# scalars also go to <work_dir>/<timestamp>/vis_data/ as TensorBoard event
# files (`tensorboard --logdir work_dirs/`). Opt in by inheriting this file
# instead of default_runtime.py, or for any config from the command line:
#   --cfg-options "visualizer.vis_backends=[dict(type='LocalVisBackend'),dict(type='TensorboardVisBackend')]"
# Needs the optional `tensorboard` package (requirements/optional.txt).
_base_ = './default_runtime.py'

vis_backends = [
    dict(type='LocalVisBackend'),
    dict(type='TensorboardVisBackend'),
]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)
