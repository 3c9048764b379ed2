"""Turning raw talking-face videos into training data: face detection and cropping, clip decoding,
and the Beam pipeline that writes sharded TFRecords."""
