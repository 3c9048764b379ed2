"""The paper's networks as Keras 3 subclassed models, one per file.

The classes are imported on first use (PEP 562), so that importing one model does not import
them all.
"""

import importlib

_MODULES = {
    "AudioEncoder": "audio_encoder",
    "FrameDecoder": "frame_decoder",
    "FrameDiscriminator": "frame_discriminator",
    "Generator": "generator",
    "GruStack": "gru_stack",
    "IdentityEncoder": "identity_encoder",
    "MouthDiscriminator": "mouth_discriminator",
    "NoiseGenerator": "noise_generator",
    "SequenceDiscriminator": "sequence_discriminator",
    "TemporalPyramidPooling": "spp",
}

__all__ = list(_MODULES)


def __getattr__(name: str):
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)
