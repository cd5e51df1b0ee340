# The BrainMVP release's downstream optimisation (its do_train.sh /
# train_script.py): Adam, lr 3e-4, weight decay 1e-4, cosine annealing to 0
# over 300 epochs stepped once per epoch, no warm-up; validation every 5
# epochs, the best mean Dice kept.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=3e-4, weight_decay=1e-4))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=300, eta_min=0.0, by_epoch=True,
         begin=0, end=300),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=300, val_interval=5)
val_cfg = dict()
test_cfg = dict()
