# The parts of the MICS fine-tuning model every backbone shares
# (docs/methods.md, "MICS: fine-tuning", decisions 8 and 9): one encoder per modality (initialised
# from model.pretrained), a cross-attention fusion encoder, the
# distribution-shift head on the fused feature, modality dropout so that
# prediction also works when a modality is missing.
model = dict(
    type='MICSMultiModalClassifier',
    modalities=('wli', 'nbi'),
    neck=dict(
        type='MICSFusionNeck',
        mode='cross_attention',
        embed_dims=256,
        num_heads=4,
        depth=1),
    head=dict(
        type='MICSDistShiftHead',
        num_classes=8,
        in_channels=256,
        lambda0=0.5,
        mode='closed_form'),
    pretrained=None,
    modality_dropout=0.2)
