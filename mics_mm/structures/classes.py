"""Class vocabularies shared by datasets, demo-data makers and tools."""
from typing import Tuple

__all__ = ['KVASIR_CLASSES', 'TISSUE_CLASSES']

#: The 8 classes of Kvasir v1/v2, in the sorted order of their folders.
KVASIR_CLASSES: Tuple[str, ...] = ('dyed-lifted-polyps',
                                   'dyed-resection-margins', 'esophagitis',
                                   'normal-cecum', 'normal-pylorus',
                                   'normal-z-line', 'polyps',
                                   'ulcerative-colitis')

#: Label names of the brain tissue segmentation derived for the real-brain
#: demo set (MNI152 grey / white matter / CSF maps).
TISSUE_CLASSES: Tuple[str, ...] = ('background', 'csf', 'gray_matter',
                                   'white_matter')
