"""Where in a 128x96 face crop speech moves the face, and the mouth-shape scale.

Measured on 699 MediaPipe face meshes of the shared clips' crops (every 10th frame): the 40 lip
points lie in rows 65-87 and columns 15-68 (0.5-99.5 percentiles), the chin at rows 95-105, the
eyes at rows 34-46. `lower_face_prior` covers mouth, jaw and chin with room for a crop framed a
little differently, and stays zero above the nose, so a blending generator cannot touch the eyes.
"""

from __future__ import annotations

import numpy as np

from lipsync_tf.config import IMAGE_HEIGHT, IMAGE_WIDTH

# Ellipse of the region speech may change: centre and semi-axes in crop pixels (row, column).
PRIOR_CENTER = (86.0, 48.0)
PRIOR_AXES = (32.0, 38.0)
# Fraction of the ellipse (by radius) where the prior is 1; it falls linearly to 0 at the edge.
PRIOR_CORE = 0.7

# Normalised lip landmarks (units of the outer-eye-corner distance) move by about 0.01-0.05 as a
# mouth talks; mouth shapes enter the networks divided by this so they are of order 1.
LIP_SHAPE_SCALE = 0.02
# The 40 lip points as one vector of (x, y) pairs.
LIP_SHAPE_DIM = 80

# Where the normalised lip frame sits in a crop: the outer eye corners' midpoint (x, y) in crop
# pixels and their distance. Measured with the face mesh on 96 training stills (a batch of every
# kind of clip): midpoint std (2.4, 1.3) px, distance std 2.1 px, roll -0.2 +- 1.7 degrees, so one
# mapping places any crop's lips within about 2-3 px.
EYE_MIDPOINT_XY = (49.6, 40.4)
EYE_DISTANCE = 44.3


def lips_to_pixels(lips):
    """Normalised lip landmarks [..., 40, 2] -> (x, y) crop pixels, by the mapping above."""
    return [EYE_MIDPOINT_XY[0], EYE_MIDPOINT_XY[1]] + EYE_DISTANCE * lips


def lower_face_prior(
    height: int = IMAGE_HEIGHT, width: int = IMAGE_WIDTH, dtype=np.float32
) -> np.ndarray:
    """[height, width, 1] in [0, 1]: 1 on mouth, jaw and chin, 0 from the nose up and at the
    sides, a linear fade between. For another size the same region is scaled to it."""
    rows = (np.arange(height, dtype=np.float64) + 0.5) * IMAGE_HEIGHT / height - 0.5
    cols = (np.arange(width, dtype=np.float64) + 0.5) * IMAGE_WIDTH / width - 0.5
    radius = np.sqrt(
        ((rows[:, None] - PRIOR_CENTER[0]) / PRIOR_AXES[0]) ** 2
        + ((cols[None, :] - PRIOR_CENTER[1]) / PRIOR_AXES[1]) ** 2
    )
    prior = np.clip((1.0 - radius) / (1.0 - PRIOR_CORE), 0.0, 1.0)
    return prior[..., None].astype(dtype)


# Positions of the inner-lip points 13 (upper) and 14 (lower) among the 40 lip points
# (preprocessing.landmarks.LIPS order): their vertical gap is the mouth opening in lip units.
INNER_LIP_GAP = (1, 2)


def lip_gap(lips):
    """Inner-lip gap (point 13 to 14, downwards) of lip shapes [..., 40, 2] -> [...]: the mouth
    opening in lip units. Works on numpy arrays and tensors, absolute or mean-relative shapes."""
    upper, lower = INNER_LIP_GAP
    return lips[..., lower, 1] - lips[..., upper, 1]
