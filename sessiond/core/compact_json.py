"""Compact JSON as bytes, by msgspec's C encoder and decoder (no Rust).

The same JSON that ``json.dumps(value, separators=(",", ":"), ensure_ascii=False)`` writes
for ``asdict(value)``: dataclasses become objects of their fields in declaration order,
enums their values, tuples lists; only a float in exponent form is spelled shorter
(``1e300``, not ``1e+300``: the same number to any JSON reader). It skips asdict's deep
copy and Python's encoder, the largest costs of a commit. Values are never NaN or
infinite (the API refuses them).
"""

from __future__ import annotations

from typing import Any

import msgspec

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


def dumps(value: Any) -> bytes:
    return _encoder.encode(value)


def loads(raw: bytes | str) -> Any:
    return _decoder.decode(raw)
