"""The mock's face comparison: the same picture matches however it is re-encoded; another
picture does not; what is not a JPEG/PNG image is refused before it is decoded."""

from __future__ import annotations

import io
import itertools
import struct
import zlib

import pytest
from PIL import Image

from identity.dukcapil.faces import (
    DEFAULT_MATCH_THRESHOLD,
    decode_image,
    encode_jpeg,
    fingerprint,
    fingerprint_image,
    render_portrait,
    render_portrait_jpeg,
)
from identity.dukcapil.registry import InvalidImage

NIKS = [
    "6409011203850001",
    "6409016407880001",
    "1174034511920001",
    "6472031708790001",
    "3574036104700001",
    "1209203001900001",
    "6409011501070001",
    "6409014501700002",
]


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _score(a: bytes, b: bytes) -> float:
    return fingerprint(a).similarity(fingerprint(b))


def test_a_portrait_is_the_same_picture_every_time() -> None:
    assert (
        render_portrait("6409011203850001").tobytes()
        == render_portrait("6409011203850001").tobytes()
    )
    assert (
        render_portrait("6409011203850001").tobytes()
        != render_portrait("6409016407880001").tobytes()
    )


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(lambda im: encode_jpeg(im, quality=95), id="jpeg-95"),
        pytest.param(lambda im: encode_jpeg(im, quality=30), id="jpeg-30"),
        pytest.param(_png, id="png"),
        pytest.param(lambda im: encode_jpeg(im.resize((120, 160)), quality=80), id="half-size"),
        pytest.param(lambda im: _png(im.resize((480, 640))), id="double-size-png"),
        pytest.param(lambda im: encode_jpeg(im.resize((300, 400)), quality=60), id="larger-jpeg"),
    ],
)
def test_the_registered_photo_re_encoded_matches(variant: object) -> None:
    for nik in NIKS[:4]:
        portrait = render_portrait(nik)
        registered = render_portrait_jpeg(nik)

        score = _score(registered, variant(portrait))  # type: ignore[operator]

        assert score >= DEFAULT_MATCH_THRESHOLD, (nik, score)


def test_a_jpeg_decoded_and_saved_again_matches_almost_perfectly() -> None:
    registered = render_portrait_jpeg(NIKS[0])
    again = encode_jpeg(Image.open(io.BytesIO(registered)), quality=85)

    assert _score(registered, again) > 0.9


def test_another_residents_photo_does_not_match() -> None:
    prints = [fingerprint(render_portrait_jpeg(nik)) for nik in NIKS]

    for a, b in itertools.combinations(prints, 2):
        assert a.similarity(b) < DEFAULT_MATCH_THRESHOLD


def test_different_portraits_score_far_below_the_threshold_on_average() -> None:
    prints = [fingerprint_image(render_portrait(f"640901{n:06d}0001")) for n in range(10101, 10160)]
    scores = [a.similarity(b) for a, b in itertools.combinations(prints, 2)]

    assert max(scores) < DEFAULT_MATCH_THRESHOLD
    assert sum(scores) / len(scores) < 0.2


def test_flat_pictures_of_different_colours_do_not_match() -> None:
    red = _png(Image.new("RGB", (200, 200), (220, 20, 30)))
    blue = _png(Image.new("RGB", (200, 200), (20, 40, 220)))

    assert _score(red, blue) < DEFAULT_MATCH_THRESHOLD
    assert _score(red, red) == 1.0


def test_a_photo_rotated_by_its_exif_tag_matches_the_upright_one() -> None:
    portrait = render_portrait(NIKS[0])
    # What a phone stores: the pixels sideways and "rotate 90° clockwise" in EXIF (6).
    sideways = portrait.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    sideways.save(buffer, format="JPEG", quality=85, exif=exif)

    assert _score(encode_jpeg(portrait), buffer.getvalue()) >= DEFAULT_MATCH_THRESHOLD


def test_transparent_parts_of_a_png_are_seen_on_white() -> None:
    portrait = render_portrait(NIKS[1]).convert("RGBA")

    assert _score(encode_jpeg(portrait), _png(portrait)) >= DEFAULT_MATCH_THRESHOLD


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"%PDF-1.7\n1 0 obj<<>>endobj\n", id="pdf"),
        pytest.param(b"GIF89a" + b"\x00" * 40, id="gif-header"),
        pytest.param(b"\xff\xd8\xff\xe0" + b"\x00" * 30, id="broken-jpeg"),
        pytest.param(b"not an image at all, just a .jpg name", id="text"),
    ],
)
def test_what_is_not_a_jpeg_or_png_is_an_invalid_image(data: bytes) -> None:
    with pytest.raises(InvalidImage):
        fingerprint(data)


def test_gif_and_bmp_are_refused_even_though_pillow_reads_them() -> None:
    image = render_portrait(NIKS[0])
    for format_ in ("GIF", "BMP", "WEBP"):
        buffer = io.BytesIO()
        image.save(buffer, format=format_)
        with pytest.raises(InvalidImage):
            fingerprint(buffer.getvalue())


def test_a_truncated_jpeg_is_an_invalid_image() -> None:
    data = render_portrait_jpeg(NIKS[0])

    with pytest.raises(InvalidImage):
        fingerprint(data[: len(data) // 2])


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` pixels: a decompression bomb's shape."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(("width", "height"), [(7000, 7000), (20_000, 20_000)])
def test_an_image_claiming_too_many_pixels_is_refused_before_decoding(
    width: int, height: int
) -> None:
    bomb = _png_header_only(width, height)  # 49 or 400 MP in a few bytes

    with pytest.raises(InvalidImage, match="pixels"):
        decode_image(bomb)


def test_a_twelve_megapixel_photo_of_the_picture_decodes_and_matches() -> None:
    portrait = render_portrait(NIKS[2])
    large = encode_jpeg(portrait.resize((3000, 4000), Image.Resampling.BICUBIC), quality=90)

    assert _score(render_portrait_jpeg(NIKS[2]), large) >= DEFAULT_MATCH_THRESHOLD
