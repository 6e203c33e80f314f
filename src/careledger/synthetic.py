"""Synthetic large files shaped like what hospitals share at gigabyte scale, for tests,
benchmarks and demos (never real patient data):

* ``imaging``: a DICOM-like file (128-byte preamble, ``DICM``, a small header, then 16-bit
  pixel frames: a smooth gradient with noise, which compresses like real CT slices do);
* ``genome``: FASTQ-like reads (``@read``, 150 bases of ACGT, ``+``, quality letters).

Deterministic for a given ``seed``; written in 1 MiB blocks, in constant memory.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path

BLOCK = 1 << 20


def _imaging_block(rng: random.Random, index: int) -> bytes:
    width = 512
    rows = BLOCK // (2 * width)
    base = (index * 37) % 4096
    row = [base + (x * 3) % 1024 for x in range(width)]
    out = bytearray()
    for y in range(rows):
        noise = rng.randrange(64)
        out += struct.pack(f"<{width}H", *((v + y + noise) & 0xFFFF for v in row))
    return bytes(out[:BLOCK])


def _genome_block(rng: random.Random, index: int) -> bytes:
    out = bytearray()
    n = 0
    while len(out) < BLOCK:
        bases = "".join(rng.choices("ACGT", k=150))
        quality = "".join(rng.choices("FGHIJ#", k=150))
        out += f"@synthetic:{index}:{n} length=150\n{bases}\n+\n{quality}\n".encode()
        n += 1
    return bytes(out[:BLOCK])


def write_synthetic(path: str | Path, size: int, kind: str = "imaging", seed: int = 0) -> Path:
    """Write ``size`` bytes of a synthetic ``kind`` ("imaging" or "genome") file to ``path``.

    Blocks repeat after 16 distinct ones (generation at disk speed, not Python's), each with
    its own index in it so no two 1 MiB blocks of a file are equal.
    """
    if kind not in ("imaging", "genome"):
        raise ValueError(f"kind must be 'imaging' or 'genome', not {kind!r}")
    rng = random.Random(seed)
    make = _imaging_block if kind == "imaging" else _genome_block
    blocks = [make(rng, i) for i in range(min(16, -(-size // BLOCK)))]
    out = Path(path)
    with out.open("wb") as fh:
        if kind == "imaging":
            header = b"\x00" * 128 + b"DICM" + b"synthetic CT study, not patient data".ljust(380)
            fh.write(header[:size])
            written = min(size, len(header))
        else:
            written = 0
        i = 0
        while written < size:
            block = bytearray(blocks[i % len(blocks)])
            block[:8] = struct.pack(">Q", i)  # every block distinct
            take = min(BLOCK, size - written)
            fh.write(block[:take])
            written += take
            i += 1
    return out
