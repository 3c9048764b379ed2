"""IdentityEncoder: the code and the four U-Net skips."""

import numpy as np
import pytest

from lipsync_tf.config import ModelConfig
from lipsync_tf.models import IdentityEncoder
from tests.models.helpers import stills


def test_identity_encoder_returns_code_and_four_skips(rng):
    encoder = IdentityEncoder(filters=(4, 5, 6, 7, 8), code_dim=50, norm_groups=1)
    code, skips = encoder(stills(rng, 3))
    assert tuple(code.shape) == (3, 50)
    assert np.abs(code.numpy()).max() <= 1.0
    assert [(None, *skip.shape[1:]) for skip in skips] == encoder.skip_shapes
    assert [tuple(skip.shape) for skip in skips] == [
        (3, 64, 48, 4),
        (3, 32, 24, 5),
        (3, 16, 12, 6),
        (3, 8, 6, 7),
    ]


def test_identity_code_depends_on_the_face(rng):
    encoder = IdentityEncoder.from_model_config(ModelConfig.tiny())
    code, _ = encoder(stills(rng, 2))
    assert np.abs(code[0] - code[1]).max() > 1e-3


def test_identity_encoder_rejects_other_image_sizes(rng):
    encoder = IdentityEncoder.from_model_config(ModelConfig.tiny())
    with pytest.raises(ValueError, match="128, 96, 3"):
        encoder(rng.uniform(-1, 1, (1, 96, 128, 3)).astype(np.float32))
