"""SDA's generator at its layer sizes, in PyTorch, for timing only (random weights).

The baseline of issue 33: "Realistic Speech-Driven Facial Animation with GANs" (Vougioukas et
al.), whose PyTorch code is DinoMan/speech-driven-animation. Written here from its architecture
(nothing of its code is copied): an identity encoder of five 4x4 stride-2 convs (64 ... 1024
channels, batch norm, ReLU) and a (4, 3) conv to a 50-d code, run once per still; an audio
encoder of 1-d convs over each frame's 0.2 s of raw speech (16 -> 256 channels, batch norm,
ReLU) to a 256-d code, then two 256-unit GRUs; a one-layer 10-unit GRU over the noise; and the
frame generator: a (4, 3) transposed conv from the 316-d latent to 1024 channels, then four
U-Net blocks, each concatenating the identity encoder's skip of the same size, a 3x3
transposed conv back to its width and a 4x4 stride-2 transposed conv halving it (1024 ... 64),
batch norm and ReLU after each, and a last 4x4 stride-2 transposed conv to 3 channels, tanh.
About 1.32 GMAC per frame, nearly all in the generator's convolutions.

What is timed is what a chunked client of SDA computes for 25 frames (one second of video) once
the still is encoded: the audio windows through the audio encoder and GRUs, the noise GRU, the
generator, the uint8 frames; eager PyTorch in inference mode, as SDA's own `VideoAnimator` runs
(there the whole recording is one batch; 25 frames a batch is within a few per cent of it).
Speech at 16 kHz (SDA's models take 16 or 50 kHz; the audio encoder is under 1 % of the work
either way).

Run with a Python that has torch (not a lipsync_tf dependency), usually as a worker of
`bench/paper_vs_sda.py`:

    python bench/sda_generator.py              # prints the MACs and one timing
    python bench/sda_generator.py --worker     # reads a count per line, times that many chunks
"""

from __future__ import annotations

import argparse
import itertools
import resource
import sys
import time

import torch
from torch import nn

FRAMES = 25
SAMPLE_RATE = 16000
WINDOW_SECONDS = 0.2
IMAGE = (128, 96)
ID_DIM, AUDIO_DIM, RNN_DIM, NOISE_DIM = 50, 256, 256, 10
ID_CHANNELS = (64, 128, 256, 512, 1024)


def conv_bn_relu(conv: nn.Module, channels: int, dims: int = 2) -> nn.Sequential:
    norm = nn.BatchNorm2d(channels) if dims == 2 else nn.BatchNorm1d(channels)
    return nn.Sequential(conv, norm, nn.ReLU(inplace=True))


class IdentityEncoder(nn.Module):
    """still [n, 3, 128, 96] -> (code [n, 50], skips at 64x48 ... 4x3)."""

    def __init__(self):
        super().__init__()
        widths = (3, *ID_CHANNELS)
        self.convs = nn.ModuleList(
            conv_bn_relu(nn.Conv2d(cin, cout, 4, 2, 1, bias=False), cout)
            for cin, cout in itertools.pairwise(widths)
        )
        self.code = nn.Conv2d(ID_CHANNELS[-1], ID_DIM, (4, 3), bias=False)

    def forward(self, x):
        skips = []
        for conv in self.convs:
            x = conv(x)
            skips.append(x)
        return torch.tanh(self.code(x)).flatten(1), skips


class AudioEncoder(nn.Module):
    """windows [n, 1, 3200] (0.2 s each) -> codes [n, 256]: a strided conv of 5 ms kernels
    every 1 ms, then convs of the remaining 200 steps' prime factors (2, 2, 2, 5), then one
    over what is left."""

    def __init__(self):
        super().__init__()
        rate = SAMPLE_RATE
        layers, channels, steps = [], 16, int(WINDOW_SECONDS * 1000)
        first = conv_bn_relu(
            nn.Conv1d(1, channels, int(0.005 * rate), int(0.001 * rate), int(0.002 * rate)),
            channels,
            dims=1,
        )
        layers.append(first)
        for stride in (2, 2, 2, 5):
            kernel = 2 * stride
            layers.append(
                conv_bn_relu(
                    nn.Conv1d(channels, 2 * channels, kernel, stride, (kernel - stride + 1) // 2),
                    2 * channels,
                    dims=1,
                )
            )
            channels, steps = 2 * channels, steps // stride
        self.convs = nn.Sequential(*layers)
        self.code = nn.Conv1d(channels, AUDIO_DIM, steps)

    def forward(self, windows):
        return torch.tanh(self.code(self.convs(windows))).flatten(1)


class UnetBlock(nn.Module):
    def __init__(self, width: int, skip: int):
        super().__init__()
        self.fuse = conv_bn_relu(
            nn.ConvTranspose2d(width + skip, width, 3, 1, 1, bias=False), width
        )
        self.up = conv_bn_relu(
            nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), width // 2
        )

    def forward(self, x, skip):
        return self.up(self.fuse(torch.cat([x, skip.expand(x.shape[0], -1, -1, -1)], 1)))


class Generator(nn.Module):
    """latent [n, 316] and the still's skips -> frames [n, 3, 128, 96] in [-1, 1]."""

    def __init__(self):
        super().__init__()
        width = ID_CHANNELS[-1]
        latent = RNN_DIM + NOISE_DIM + ID_DIM
        self.seed = conv_bn_relu(nn.ConvTranspose2d(latent, width, (4, 3), bias=False), width)
        self.blocks = nn.ModuleList()
        for skip in reversed(ID_CHANNELS[1:]):  # 1024 at 4x3 ... 128 at 32x24
            self.blocks.append(UnetBlock(width, skip))
            width //= 2
        self.to_rgb = nn.ConvTranspose2d(width, 3, 4, 2, 1, bias=False)

    def forward(self, latent, skips):
        x = self.seed(latent[:, :, None, None])
        for block, skip in zip(self.blocks, reversed(skips[1:]), strict=True):
            x = block(x, skip)
        return torch.tanh(self.to_rgb(x))


class Sda(nn.Module):
    def __init__(self):
        super().__init__()
        self.identity = IdentityEncoder()
        self.audio = AudioEncoder()
        self.audio_rnn = nn.GRU(AUDIO_DIM, RNN_DIM, 2, batch_first=True)
        self.noise_rnn = nn.GRU(NOISE_DIM, NOISE_DIM, batch_first=True)
        self.generator = Generator()

    def chunk(self, code, skips, windows, noise, state):
        """One chunk: frames uint8 [n, 128, 96, 3] and the GRUs' states to carry on."""
        audio_code, audio_state = self.audio_rnn(self.audio(windows)[None], state[0])
        noise_code, noise_state = self.noise_rnn(noise, state[1])
        latent = torch.cat(
            [audio_code[0], torch.tanh(noise_code[0]), code.expand(len(windows), -1)], 1
        )
        frames = self.generator(latent, skips)
        levels = (frames.permute(0, 2, 3, 1) * 127.5 + 127.5).clamp(0, 255).round()
        return levels.to(torch.uint8), (audio_state, noise_state)


def generator_macs() -> float:
    """Multiply-accumulates per frame of the generator's convolutions."""
    height, width = 4, 3
    latent = RNN_DIM + NOISE_DIM + ID_DIM
    macs = latent * ID_CHANNELS[-1] * height * width
    channels = ID_CHANNELS[-1]
    for skip in reversed(ID_CHANNELS[1:]):
        macs += height * width * 9 * (channels + skip) * channels
        macs += height * width * 16 * channels * (channels // 2)
        channels //= 2
        height, width = 2 * height, 2 * width
    return macs + height * width * 16 * channels * 3


def make_chunk():
    """(model, a function running one 25-frame chunk on fixed inputs)."""
    torch.manual_seed(0)
    model = Sda().eval()
    still = torch.rand(1, 3, *IMAGE) * 2 - 1
    windows = torch.randn(FRAMES, 1, int(WINDOW_SECONDS * SAMPLE_RATE)) * 0.1
    noise = torch.randn(1, FRAMES, NOISE_DIM) * 0.33
    state = (torch.zeros(2, 1, RNN_DIM), torch.zeros(1, 1, NOISE_DIM))
    with torch.inference_mode():
        code, skips = model.identity(still)  # once per still

    def run():
        with torch.inference_mode():
            return model.chunk(code, skips, windows, noise, state)[0]

    return model, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help="time chunks on request (stdin)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, run = make_chunk()
    frames = run()
    assert frames.shape == (FRAMES, *IMAGE, 3), frames.shape
    if not args.worker:
        begin = time.perf_counter()
        run()
        seconds = time.perf_counter() - begin
        params = sum(p.numel() for p in model.parameters())
        print(f"SDA-sized model: {params:,d} parameters, {generator_macs() / 1e6:.0f} MMAC/frame")
        print(
            f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}"
        )
        print(f"one {FRAMES}-frame chunk: {seconds:.3f} s")
        return
    capability = torch.backends.cpu.get_cpu_capability()
    print(f"ready torch {torch.__version__}, ATen {capability}", flush=True)
    for line in sys.stdin:  # the protocol of speed_common.Worker
        count = int(line)
        begin, cpu = time.perf_counter(), _cpu_seconds()
        for _ in range(count):
            run()
        print(time.perf_counter() - begin, _cpu_seconds() - cpu, flush=True)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
