# The runtime of iteration-based fine-tuning (a fixed number of iterations
# of full batches at any labelled fraction): checkpoints and logs counted in
# iterations, a checkpoint every 100 iterations, the best validation
# accuracy kept.
_base_ = './default_runtime.py'
default_hooks = dict(
    logger=dict(log_metric_by_epoch=False),
    checkpoint=dict(by_epoch=False, interval=100, max_keep_ckpts=3,
                    save_best='accuracy', rule='greater'))
log_processor = dict(by_epoch=False)
