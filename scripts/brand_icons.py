"""Draw the integration's brand icons (run with a venv that has Pillow).

    .venv/bin/python scripts/brand_icons.py

Writes custom_components/mqtt_event_bridge/brand/icon.png (256 px) and
icon@2x.png (512 px): an event (a dot) sending waves to the right, in the
colours of HA's MQTT icon family.
"""

from pathlib import Path

from PIL import Image, ImageDraw

BRAND = Path(__file__).parent.parent / "custom_components/mqtt_event_bridge/brand"
BACKGROUND = (3, 169, 244, 255)  # HA blue
FOREGROUND = (255, 255, 255, 255)


def draw(size: int) -> Image.Image:
    """One icon, drawn at 4x and scaled down for smooth edges."""
    big = size * 4
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    pen.rounded_rectangle((0, 0, big - 1, big - 1), radius=big // 5, fill=BACKGROUND)
    centre = (big * 0.3, big * 0.5)
    dot = big * 0.09
    pen.ellipse(
        (centre[0] - dot, centre[1] - dot, centre[0] + dot, centre[1] + dot),
        fill=FOREGROUND,
    )
    width = int(big * 0.06)
    for radius in (0.22, 0.36, 0.5):
        r = big * radius
        pen.arc(
            (centre[0] - r, centre[1] - r, centre[0] + r, centre[1] + r),
            start=-50,
            end=50,
            fill=FOREGROUND,
            width=width,
        )
    return image.resize((size, size), Image.Resampling.LANCZOS)


if __name__ == "__main__":
    BRAND.mkdir(exist_ok=True)
    draw(256).save(BRAND / "icon.png", optimize=True)
    draw(512).save(BRAND / "icon@2x.png", optimize=True)
