"""Training: the GAN with its custom train_step, the distribution strategy, checkpoints and the
callbacks that make a run observable."""
