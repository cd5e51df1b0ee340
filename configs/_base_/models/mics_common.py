# The parts of MICS every backbone shares (docs/methods.md, "MICS"): 256-d consistency
# projection with a 65,536 queue (capped for small data by
# MICSQueueSizeHook), temperature 0.07, alpha 0.4, m = 0.995 (mmengine:
# 0.005), a 6-block L2-attention discriminator of the release's size
# (width 768, 6 heads, MLP ratio 4, learned position embedding over at most
# 576 tokens; arch='small' is the 256-wide one), loss weights 10 / 1 / 0.1.
model = dict(
    type='MICS',
    modalities=('wli', 'nbi'),
    head=dict(
        type='MICSConsistencyHead',
        feat_dim=256,
        queue_size=65536,
        temperature=0.07,
        alpha=0.4),
    discriminator=dict(type='MICSL2AttnDiscriminator', arch='release'),
    aligned_head=dict(type='MICSAlignedHead', gen_target='flip'),
    loss_weights=dict(reconstruction=10.0, consistency=1.0, aligned=0.1),
    momentum=0.005,
    cross_modal_recon=False)
