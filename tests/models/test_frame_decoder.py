"""FrameDecoder: a 128x96 RGB frame in [-1, 1] from a latent and the identity skips."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from lipsync_tf.face_geometry import lower_face_prior
from lipsync_tf.models import FrameDecoder, Generator, IdentityEncoder, frame_decoder
from lipsync_tf.models.frame_decoder import transposed_as_convs
from lipsync_tf.models.generator import MAX_FLOW
from lipsync_tf.models.warp import warp_images
from tests.models.helpers import generator_inputs, stills


def test_frame_decoder_builds_frames_from_latent_and_skips(tiny_config, rng):
    encoder = IdentityEncoder.from_model_config(tiny_config)
    _, skips = encoder(stills(rng, 3))
    decoder = FrameDecoder.from_model_config(tiny_config)
    latent = rng.normal(size=(3, 17)).astype(np.float32)
    frames = decoder((latent, skips)).numpy()
    assert frames.shape == (3, 128, 96, 3)
    assert frames.min() >= -1.0 and frames.max() <= 1.0
    # The skips reach the output: a different still changes the frame for the same latent.
    _, other_skips = encoder(stills(rng, 3))
    assert np.abs(decoder((latent, other_skips)).numpy() - frames).max() > 1e-3


def test_frame_decoder_has_six_transposed_convs_and_four_convs(tiny_config):
    decoder = FrameDecoder.from_model_config(tiny_config)
    names = [layer.name for layer in decoder._flatten_layers(include_self=False, recursive=True)]
    assert sum(name.startswith("tconv") or name == "to_rgb" for name in names) == 6
    assert sum(name.startswith("conv") for name in names) == 4


def _options(config, on: bool):
    if not on:
        return config
    return dataclasses.replace(
        config, mouth_head=True, decoder_condition_channels=3, blend_mask=True, warp_still=True
    )


@pytest.mark.parametrize("options", [False, True], ids=["paper_layers", "lip_sync_options"])
def test_split_fuse_convs_equal_convolving_the_concatenation(tiny_config, rng, options):
    config = _options(tiny_config, options)
    encoder = IdentityEncoder.from_model_config(config)
    _, skips = encoder(stills(rng, 4))
    decoder = FrameDecoder.from_model_config(config)
    latent = rng.normal(size=(4, 17)).astype(np.float32)
    inputs = (latent, skips)
    condition = None
    if options:
        condition = rng.normal(size=(4, 5)).astype(np.float32)
        inputs = (latent, skips, condition)
    split = decoder(inputs).numpy()
    reference = decoder.decode_concatenated(latent, skips, condition).numpy()
    assert split.shape == (4, 128, 96, 6 if options else 3)
    np.testing.assert_allclose(split, reference, atol=2e-6)
    # The condition reaches every pixel, the border ones (zero padding) included.
    if options:
        other = decoder((latent, skips, condition + 1.0)).numpy()
        assert (np.abs(other - split).max(axis=-1) > 0).mean() > 0.99


@pytest.mark.parametrize("options", [False, True], ids=["paper_layers", "lip_sync_options"])
def test_identity_terms_once_per_still_give_the_per_frame_frames(tiny_config, rng, options):
    """A generator's frames (identity terms computed once per still and broadcast over its
    frames) equal the unsplit decoder run on every frame with that frame's copy of the skips."""
    config = _options(tiny_config, options)
    generator = Generator.from_model_config(config)
    inputs = generator_inputs(rng, 2, 5, config)
    generator(inputs)  # builds every layer
    if options:  # the speech -> displacement path starts at zero; make it move the still
        head = generator.flow_head
        head.kernel.assign(rng.normal(0, 0.5, head.kernel.shape).astype(np.float32))
    frames = generator(inputs).numpy()

    code, skips = generator.identity_encoder(inputs["still"])
    audio_code = generator.audio_encoder(inputs["audio"])
    noise_code = generator.noise_generator(inputs["noise"])
    condition = audio_code
    if generator.mouth_head is not None:
        condition = tf.concat([audio_code, generator.mouth_head(audio_code)], axis=-1)
    latent = tf.concat([condition, tf.repeat(code[:, None], 5, axis=1), noise_code], axis=-1)
    frame_skips = [tf.repeat(skip, 5, axis=0) for skip in skips]
    frame_condition = tf.reshape(condition, [10, -1]) if options else None
    decoded = generator.frame_decoder.decode_concatenated(
        tf.reshape(latent, [10, -1]), frame_skips, frame_condition
    ).numpy()
    decoded = decoded.reshape(2, 5, 128, 96, -1)
    if options:  # the blend and warp as main wrote them: a copy of the still per frame
        mask = tf.sigmoid(decoded[..., 3:4]).numpy() * lower_face_prior()
        flow = decoded[..., 4:6].reshape(10, 128, 96, 2) + generator._speech_flow(
            condition, 2, 5
        ).numpy().reshape(10, 128, 96, 2)
        flow = MAX_FLOW * np.tanh(flow / MAX_FLOW) * lower_face_prior()
        assert np.abs(flow).max() > 1.0  # the still does move
        output = generator.generate(
            generator.encode_identity(inputs["still"]), inputs["audio"], inputs["noise"]
        )
        np.testing.assert_allclose(output["flow"].numpy().reshape(flow.shape), flow, atol=2e-6)
        still = warp_images(np.repeat(inputs["still"], 5, axis=0), flow).numpy()
        decoded = mask * decoded[..., :3] + (1 - mask) * still.reshape(2, 5, 128, 96, 3)
    # The warp reads the still where the flow points, so a rounding-level change of the flow
    # moves a frame's pixel by that much times the still's slope (up to 2 per pixel on these
    # random stills): within 2e-5 with the warp, 2e-6 without.
    np.testing.assert_allclose(frames, decoded, atol=2e-5 if options else 2e-6)
    identity = generator.encode_identity(inputs["still"])
    shapes = [tuple(part.shape[1:]) for part in [identity[0], *identity[1], *identity[2:]]]
    assert shapes == generator.identity_shapes


@pytest.mark.parametrize("options", [False, True], ids=["paper_layers", "lip_sync_options"])
def test_bfloat16_convolutions_stay_within_bfloat16_rounding_of_float32(tiny_config, rng, options):
    config = _options(tiny_config, options)
    _, skips = IdentityEncoder.from_model_config(config)(stills(rng, 3))
    decoder = FrameDecoder.from_model_config(config)
    inputs = [rng.normal(size=(3, 17)).astype(np.float32), skips]
    if options:
        inputs.append(rng.normal(size=(3, 5)).astype(np.float32))
    exact = decoder(tuple(inputs)).numpy()
    decoder.conv_dtype = "bfloat16"
    try:
        low = decoder(tuple(inputs)).numpy()
    finally:
        decoder.conv_dtype = "float32"
    assert low.dtype == np.float32 and low.shape == exact.shape
    # bfloat16 keeps 8 bits of mantissa: products off by up to 2^-8 relative. Measured over
    # seeds 0-3, both variants: at most 0.009-0.029 in [-1, 1] (1-4 uint8 levels), mean
    # 0.7-1.7e-3; the bounds leave 2x.
    difference = np.abs(low - exact)
    assert 1e-5 < difference.mean() < 5e-3 and difference.max() < 0.06
    np.testing.assert_array_equal(decoder(tuple(inputs)).numpy(), exact)  # float32 again


@pytest.mark.parametrize(
    "case",
    [((1, 1), (4, 3), 1, "valid"), ((4, 3), 4, 2, "same"), ((32, 24), 4, 2, "same")],
    ids=["seed_as_matmul", "four_phase_convs", "one_conv_and_depth_to_space"],
)
def test_transposed_convs_as_forward_convs_equal_the_layers(rng, case):
    """Inference computes every transposed conv with forward convolutions (or a matmul): the
    same outputs as the Keras layer, bias included, for each form."""
    (height, width), kernel, strides, padding = case
    layer = keras.layers.Conv2DTranspose(7, kernel, strides=strides, padding=padding)
    x = tf.constant(rng.normal(size=(3, height, width, 5)).astype(np.float32))
    layer(x)
    layer.bias.assign(rng.normal(size=7).astype(np.float32))
    expected = layer(x).numpy()
    np.testing.assert_allclose(transposed_as_convs(layer, x).numpy(), expected, atol=2e-6)


def test_training_runs_the_keras_transposed_layers(tiny_config, rng, monkeypatch):
    """The forward-conv forms are for inference; training differentiates Keras's layers."""
    calls = []
    monkeypatch.setattr(
        frame_decoder, "transposed_as_convs", lambda *args: calls.append(args) or args[0](args[1])
    )
    encoder = IdentityEncoder.from_model_config(tiny_config)
    _, skips = encoder(stills(rng, 2))
    decoder = FrameDecoder.from_model_config(tiny_config)
    latent = rng.normal(size=(2, 17)).astype(np.float32)
    decoder((latent, skips), training=True)
    assert not calls
    decoder((latent, skips), training=False)
    assert len(calls) == 6
