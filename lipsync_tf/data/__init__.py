"""The TFRecord schema (shared with preprocessing) and the tf.data training pipeline."""
