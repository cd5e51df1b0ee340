# Kvasir fine-tuning data for iteration-based loops: full batches from
# however few labelled images (the sampler repeats them, each pass with its
# own seeded augmentations).
_base_ = './kvasir_mics_finetune.py'
train_dataloader = dict(
    sampler=dict(
        _delete_=True, type='SeededInfiniteSampler', _scope_='mics_mm',
        shuffle=True))
