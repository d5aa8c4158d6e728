"""The mock's face comparison: perceptual fingerprints of a selfie and of the registered photo.

Not face recognition: a fingerprint of the picture that survives re-encoding (JPEG quality,
PNG↔JPEG), moderate resizing and EXIF rotation, and differs between different pictures. It has
two parts, both taken from the picture made upright and flattened on white:

- a gradient hash: the signs of the horizontal and vertical brightness differences of a 16 x 16
  grayscale thumbnail (2 x 256 bits, a "difference hash"); similarity ``1 - 2·d/512`` for a
  Hamming distance ``d``, clamped to [0, 1], so that an unrelated picture scores about 0;
- a colour layout: a 4 x 4 RGB thumbnail; similarity ``1 - mean |Δ| / 64``, clamped, so that
  two pictures with the same shapes in other colours (or two flat pictures) differ.

The score is the product of the two. Measured on 300 synthetic portraits: re-encodings (JPEG
quality 25-95, PNG) and resizings by 0.5-2x score above 0.75, two different portraits below
0.4; hence the default threshold of 0.6.

Also renders the deterministic synthetic portraits of the generated population (a KTP-style
head-and-shoulders picture on a red or blue backdrop), so that 10,000 photos need no storage.
"""

from __future__ import annotations

import hashlib
import io
import random
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFilter, ImageOps

from identity.dukcapil.registry import InvalidImage

ACCEPTED_FORMATS = ("JPEG", "PNG")
# Decoding cap, checked from the header before any pixel is decoded: 36 MP (6000 x 6000) is
# more than any phone's front camera, and bounds a PNG's decoded size to about 110 MB.
MAX_IMAGE_PIXELS = 36_000_000
DEFAULT_MATCH_THRESHOLD = 0.6

_GRADIENT_SIZE = 16
_GRADIENT_BITS = 2 * _GRADIENT_SIZE * _GRADIENT_SIZE
_COLOUR_SIZE = 4
_COLOUR_SCALE = 64.0


@dataclass(frozen=True, slots=True)
class Fingerprint:
    gradients: int  # _GRADIENT_BITS bits
    colours: bytes  # _COLOUR_SIZE² RGB pixels

    def similarity(self, other: Fingerprint) -> float:
        """1.0 for the same picture, about 0 for an unrelated one."""
        distance = (self.gradients ^ other.gradients).bit_count()
        shapes = max(0.0, 1.0 - 2.0 * distance / _GRADIENT_BITS)
        deviation = sum(abs(a - b) for a, b in zip(self.colours, other.colours, strict=True))
        colours = max(0.0, 1.0 - deviation / len(self.colours) / _COLOUR_SCALE)
        return shapes * colours


def decode_image(data: bytes) -> Image.Image:
    """Decode untrusted bytes as a JPEG or PNG (judged by content) into an upright RGB picture.

    Raises ``InvalidImage`` for anything else, for a truncated or corrupt file and for an image
    with more than ``MAX_IMAGE_PIXELS`` pixels.
    """
    too_many_pixels = f"the image must have at most {MAX_IMAGE_PIXELS} pixels"
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as exc:
        raise InvalidImage(too_many_pixels) from exc
    except Exception as exc:
        raise InvalidImage("the file is not a JPEG or PNG image") from exc
    try:
        if image.format not in ACCEPTED_FORMATS:
            raise InvalidImage("the file is not a JPEG or PNG image")
        width, height = image.size
        if width < 1 or height < 1 or width * height > MAX_IMAGE_PIXELS:
            raise InvalidImage(too_many_pixels)
        if image.format == "JPEG":
            # Let libjpeg scale down while decoding: a 12 MP selfie never exists in full here.
            image.draft("RGB", (8 * _GRADIENT_SIZE, 8 * _GRADIENT_SIZE))
        image.load()
        upright = ImageOps.exif_transpose(image)
        return _flatten(upright)
    except InvalidImage:
        raise
    except Exception as exc:  # whatever a malformed file makes a decoder raise
        raise InvalidImage("the image cannot be decoded") from exc
    finally:
        image.close()


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, transparent parts on white (what a viewer shows)."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _gradient_hash(gray: Image.Image) -> int:
    n = _GRADIENT_SIZE
    wide = gray.resize((n + 1, n), Image.Resampling.LANCZOS).tobytes()
    tall = gray.resize((n, n + 1), Image.Resampling.LANCZOS).tobytes()
    value = 0
    for r in range(n):
        for c in range(n):
            value = (value << 1) | (wide[r * (n + 1) + c] < wide[r * (n + 1) + c + 1])
    for r in range(n):
        for c in range(n):
            value = (value << 1) | (tall[r * n + c] < tall[(r + 1) * n + c])
    return value


def fingerprint_image(image: Image.Image) -> Fingerprint:
    rgb = _flatten(image)
    colours = rgb.resize((_COLOUR_SIZE, _COLOUR_SIZE), Image.Resampling.BOX).tobytes()
    return Fingerprint(gradients=_gradient_hash(rgb.convert("L")), colours=colours)


def fingerprint(data: bytes) -> Fingerprint:
    """The fingerprint of an encoded JPEG/PNG; ``InvalidImage`` if it is not one."""
    return fingerprint_image(decode_image(data))


def similarity(a: Fingerprint, b: Fingerprint) -> float:
    return a.similarity(b)


# --- synthetic portraits ------------------------------------------------------------------------

PORTRAIT_SIZE = (240, 320)

_SKIN_TONES = ((241, 194, 125), (224, 172, 105), (198, 134, 66), (161, 102, 58), (141, 85, 36))
_HAIR_COLOURS = ((20, 16, 14), (38, 28, 22), (58, 42, 30), (90, 90, 90), (200, 200, 200))
_HIJAB_COLOURS = (
    (250, 250, 250), (20, 20, 25), (120, 20, 40), (30, 60, 120), (200, 170, 140),
    (90, 110, 60), (230, 140, 170), (70, 40, 90),
)  # fmt: skip
_CLOTHES = (
    (250, 250, 250), (25, 25, 30), (40, 60, 110), (150, 30, 30), (70, 90, 60), (180, 150, 100),
    (110, 110, 120), (0, 90, 110),
)  # fmt: skip


def _rng_for(nik: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(nik.encode()).digest()[:8], "big"))  # noqa: S311 - a picture, not a secret


def render_portrait(nik: str, *, gender: str | None = None) -> Image.Image:
    """The registered photo of a generated resident: always the same picture for a NIK.

    The backdrop follows the KTP custom (red for even birth years, blue for odd) when the NIK's
    year can be read; ``gender`` defaults to the one the NIK encodes.
    """
    rng = _rng_for(nik)
    width, height = PORTRAIT_SIZE
    if gender is None:
        gender = "P" if nik[6:8].isdigit() and int(nik[6:8]) > 40 else "L"
    odd_year = nik[10:12].isdigit() and int(nik[10:12]) % 2 == 1
    base = (40, 80, 200) if odd_year else (200, 30, 40)
    backdrop = tuple(max(0, min(255, c + rng.randint(-45, 45))) for c in base)

    image = Image.new("RGB", PORTRAIT_SIZE, backdrop)
    # A soft, random light fall-off across the backdrop: studio lighting differs per picture.
    light = Image.new("L", (4, 5))
    light.putdata([rng.randint(0, 255) for _ in range(20)])
    light = light.resize(PORTRAIT_SIZE, Image.Resampling.BICUBIC)
    shade = Image.new("RGB", PORTRAIT_SIZE, (255, 255, 255))
    image = Image.composite(shade, image, light.point(lambda v: v * 2 // 5))
    draw = ImageDraw.Draw(image)

    cx = width // 2 + rng.randint(-28, 28)
    face_w = rng.randint(70, 100)
    face_h = int(face_w * rng.uniform(1.2, 1.45))
    top = rng.randint(55, 105)
    skin = rng.choice(_SKIN_TONES)
    clothes = rng.choice(_CLOTHES)
    hijab = gender == "P" and rng.random() < 0.6
    hair = rng.choice(_HAIR_COLOURS[:3] if rng.random() < 0.85 else _HAIR_COLOURS)

    # Shoulders and collar.
    shoulder_top = top + face_h + rng.randint(5, 25)
    spread = rng.randint(90, 125)
    draw.ellipse((cx - spread, shoulder_top, cx + spread, shoulder_top + 220), fill=clothes)
    draw.polygon(
        [(cx - 18, shoulder_top + 4), (cx + 18, shoulder_top + 4), (cx, shoulder_top + 40)],
        fill=(245, 245, 245) if sum(clothes) < 360 else (40, 40, 40),
    )
    if hijab:
        scarf = rng.choice(_HIJAB_COLOURS)
        pad = rng.randint(14, 24)
        draw.ellipse(
            (cx - face_w // 2 - pad, top - pad - 6, cx + face_w // 2 + pad, top + face_h + pad),
            fill=scarf,
        )
        draw.polygon(
            [
                (cx - face_w // 2 - pad, top + face_h // 2),
                (cx + face_w // 2 + pad, top + face_h // 2),
                (cx + spread - 10, shoulder_top + 70),
                (cx - spread + 10, shoulder_top + 70),
            ],
            fill=scarf,
        )
    else:
        # Neck, then hair behind the head: short, parted or long.
        draw.rectangle(
            (cx - face_w // 5, top + face_h - 20, cx + face_w // 5, shoulder_top + 12), fill=skin
        )
        style = rng.randrange(3) if gender == "P" else rng.randrange(2)
        volume = rng.randint(6, 16)
        if style == 2:
            draw.rectangle(
                (cx - face_w // 2 - volume, top, cx + face_w // 2 + volume, top + face_h + 40),
                fill=hair,
            )
        draw.ellipse(
            (
                cx - face_w // 2 - volume,
                top - volume - 8,
                cx + face_w // 2 + volume,
                top + face_h // 2 + 10,
            ),
            fill=hair,
        )
    draw.ellipse((cx - face_w // 2, top, cx + face_w // 2, top + face_h), fill=skin)
    if not hijab and rng.random() < 0.5:
        # A fringe across the forehead.
        draw.chord(
            (cx - face_w // 2, top - 10, cx + face_w // 2, top + face_h // 3),
            180 + rng.randint(0, 20),
            360 - rng.randint(0, 20),
            fill=hair,
        )

    # Eyes, brows, nose, mouth; glasses for some.
    eye_y = top + int(face_h * rng.uniform(0.40, 0.48))
    eye_dx = int(face_w * rng.uniform(0.18, 0.24))
    eye_r = rng.randint(4, 7)
    for side in (-1, 1):
        ex = cx + side * eye_dx
        draw.ellipse(
            (ex - eye_r - 3, eye_y - eye_r, ex + eye_r + 3, eye_y + eye_r), fill=(250, 250, 250)
        )
        draw.ellipse(
            (ex - eye_r + 1, eye_y - eye_r + 1, ex + eye_r - 1, eye_y + eye_r - 1),
            fill=(45, 30, 20),
        )
        brow_y = eye_y - eye_r - rng.randint(5, 10)
        draw.line(
            (ex - 10, brow_y + side, ex + 10, brow_y - side), fill=hair, width=rng.randint(2, 4)
        )
    if rng.random() < 0.2:
        for side in (-1, 1):
            ex = cx + side * eye_dx
            draw.rectangle(
                (ex - 14, eye_y - 10, ex + 14, eye_y + 10), outline=(20, 20, 20), width=2
            )
        draw.line((cx - eye_dx + 14, eye_y, cx + eye_dx - 14, eye_y), fill=(20, 20, 20), width=2)
    nose_y = eye_y + int(face_h * rng.uniform(0.16, 0.22))
    shadow = tuple(int(c * 0.8) for c in skin)
    draw.polygon([(cx, eye_y + 8), (cx - 7, nose_y), (cx + 7, nose_y)], fill=shadow)
    mouth_y = nose_y + int(face_h * rng.uniform(0.10, 0.16))
    mouth_w = int(face_w * rng.uniform(0.2, 0.32))
    draw.arc(
        (cx - mouth_w, mouth_y - 8, cx + mouth_w, mouth_y + rng.randint(4, 12)),
        10,
        170,
        fill=(150, 60, 60),
        width=3,
    )
    if gender == "L" and rng.random() < 0.25:
        draw.rectangle((cx - mouth_w, mouth_y - 14, cx + mouth_w, mouth_y - 9), fill=hair)

    # Camera softness and sensor grain make it less of a drawing.
    image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.6, 1.2)))
    grain = Image.frombytes("L", PORTRAIT_SIZE, rng.randbytes(width * height)).convert("RGB")
    return Image.blend(image, grain, rng.uniform(0.03, 0.06))


def encode_jpeg(image: Image.Image, *, quality: int = 85) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def render_portrait_jpeg(nik: str, *, gender: str | None = None, quality: int = 85) -> bytes:
    return encode_jpeg(render_portrait(nik, gender=gender), quality=quality)
