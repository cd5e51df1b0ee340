"""Helpers that the command-line tools share: config loading and edits
(:mod:`.cli`, :mod:`.amp`), reading a work dir (:mod:`.run_files`), the
demo steps (:mod:`.demo`), the analysis tools' inputs and outputs
(:mod:`.analysis`), the recipe a config gives (:mod:`.recipe`) and how
BrainMVP's templates compare with the training data
(:mod:`.template_report`).

Tools import these from the package; no tool imports another tool.
"""
from .amp import enable_amp
from .analysis import (DEFAULT_MODALITIES, DEFAULT_SPLIT, build_split,
                       collate_batches, config_data_root, config_img_size,
                       config_modalities, labels_of, load_analysis_config,
                       load_analysis_state_dict, resize_pipeline, save_figure,
                       spread_over_classes, to_rgb_image)
from .cli import LAUNCHERS, add_common_args, load_config
from .demo import run_step, summarise_losses
from .recipe import RECIPE_THRESHOLDS, format_recipe, recipe_report
from .run_files import (SCALARS, find_scalars, last_checkpoint, list_runs,
                        load_scalars, read_train_scalars)
from .template_report import (format_report, mean_images_on_canvas,
                              save_template_montage, template_correlations,
                              template_report)

__all__ = [
    # amp
    'enable_amp',
    # analysis
    'DEFAULT_MODALITIES', 'DEFAULT_SPLIT', 'build_split', 'collate_batches',
    'config_data_root', 'config_img_size', 'config_modalities', 'labels_of',
    'load_analysis_config', 'load_analysis_state_dict', 'resize_pipeline',
    'save_figure', 'spread_over_classes', 'to_rgb_image',
    # cli
    'LAUNCHERS', 'add_common_args', 'load_config',
    # demo
    'run_step', 'summarise_losses',
    # recipe
    'RECIPE_THRESHOLDS', 'format_recipe', 'recipe_report',
    # run_files
    'SCALARS', 'find_scalars', 'last_checkpoint', 'list_runs', 'load_scalars',
    'read_train_scalars',
    # template_report
    'format_report', 'mean_images_on_canvas', 'save_template_montage',
    'template_correlations', 'template_report',
]
