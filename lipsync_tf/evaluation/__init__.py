"""Evaluation: video metrics, face-mesh landmarks and the bin/evaluate driver."""
