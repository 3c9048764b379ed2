"""Export: the generator as a TF Serving SavedModel (three signatures) and as TFLite."""
