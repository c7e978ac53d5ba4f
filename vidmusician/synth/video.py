"""Pictures of the synthetic world: per-class scenes with smooth, small motion and strong visual events.

Each scene class has its own palette, shape and motion style. Between events, shapes move by under a
pixel a frame (anti-aliased, so the change is small and smooth); at each event frame the picture
changes a lot, in one of three ways:
  cut   - new background colour and a new shape layout (a hard scene cut);
  flash - the frame washes towards the class's flash colour, then fades back over FLASH_DECAY_S
          (the fade is gradual, so the only big frame-to-frame change is at the event frame itself);
  burst - the shapes jump to new places and take new colours (a motion burst), background unchanged.
An event at frame k changes the picture between frames k-1 and k, so it is visible exactly at frame k.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidmusician.config.schema import WorldConfig

EVENT_KINDS = ("cut", "flash", "burst")

FLASH_PEAK = 0.45  # blend weight of the flash colour at the event frame
FLASH_DECAY_S = 0.5  # time constant of the fade back: frame-to-frame change after the event stays small
GRADIENT = 0.25  # background brightness falls by this fraction from top to bottom (a static gradient)
STRIPE_CONTRAST = 0.12  # bell scenes: faint rotating stripes over the background
STRIPE_PERIOD = 0.35  # stripe period, as a fraction of the frame height
STRIPE_SPIN = 0.5  # stripes turn at this fraction of the shapes' rotation speed
MIN_JUMP = 0.3  # a burst moves every shape by at least this fraction of the frame height


@dataclass(frozen=True)
class SceneStyle:
    backgrounds: tuple  # RGB colours a cut chooses from (never the current one)
    shape_colors: tuple
    flash_color: tuple  # contrasts with the backgrounds: white for dark palettes, dark for pastels
    shape: str  # circle | square | triangle
    count: tuple  # (min, max) shapes on screen
    size: tuple  # (min, max) radius / half-side / inradius, as a fraction of the frame height
    motion: str  # drift (slow sway) | bounce (straight lines, reflected at the borders) | spin
    speed: float  # drift amplitude / bounce speed, in frame heights (per second for bounce)
    spin_rad_s: float  # rotation speed of the shapes (and stripes)
    stripes: bool


STYLES = {
    # Dark palette, a few big circles swaying slowly.
    "bass": SceneStyle(
        backgrounds=((20, 24, 60), (50, 16, 40), (12, 45, 40), (40, 40, 40)),
        shape_colors=((200, 60, 60), (230, 140, 40), (90, 90, 220), (160, 60, 200)),
        flash_color=(255, 250, 235),
        shape="circle", count=(2, 3), size=(0.16, 0.24), motion="drift", speed=0.06, spin_rad_s=0.0,
        stripes=False,
    ),
    # Bright, saturated palette, several small squares bouncing around.
    "arpeggio": SceneStyle(
        backgrounds=((250, 210, 40), (40, 200, 230), (250, 120, 40), (120, 230, 90)),
        shape_colors=((220, 20, 120), (20, 40, 200), (255, 255, 255), (30, 30, 30), (140, 0, 200)),
        flash_color=(255, 255, 255),
        shape="square", count=(5, 7), size=(0.07, 0.1), motion="bounce", speed=0.25, spin_rad_s=0.0,
        stripes=False,
    ),
    # Pastel palette, triangles turning slowly over faint rotating stripes.
    "bell": SceneStyle(
        backgrounds=((245, 185, 210), (175, 235, 200), (175, 205, 250), (250, 240, 165)),
        shape_colors=((120, 80, 190), (60, 140, 190), (220, 90, 130), (70, 160, 110)),
        flash_color=(40, 20, 70),
        shape="triangle", count=(3, 4), size=(0.13, 0.2), motion="spin", speed=0.02, spin_rad_s=0.8,
        stripes=True,
    ),
}


@dataclass
class Layout:
    """What is on screen since the last cut/burst; motion is a function of time since `start_frame`."""
    start_frame: int
    background: np.ndarray  # (3,) float
    centers: np.ndarray  # (n, 2) x, y in pixels
    sizes: np.ndarray  # (n,) pixels
    colors: np.ndarray  # (n, 3)
    velocity: np.ndarray  # (n, 2): bounce velocity (px/s) or drift phase/angular frequency
    angles: np.ndarray  # (n,) initial rotation
    stripe_angle: float


def sample_event_kinds(rng: np.random.Generator, count: int) -> list[str]:
    """A mix of event kinds, chosen uniformly."""
    return [EVENT_KINDS[i] for i in rng.integers(len(EVENT_KINDS), size=count)]


def _pick_other(rng: np.random.Generator, palette: tuple, current: np.ndarray | None) -> np.ndarray:
    choices = [np.asarray(c, float) for c in palette if current is None or not np.array_equal(c, current)]
    return choices[rng.integers(len(choices))]


def _new_layout(rng: np.random.Generator, style: SceneStyle, cfg: WorldConfig, frame: int,
                previous: Layout | None) -> Layout:
    h, w = cfg.height, cfg.width
    n = int(rng.integers(style.count[0], style.count[1] + 1))
    sizes = rng.uniform(*style.size, n) * h
    centers = np.stack([rng.uniform(sizes, w - sizes), rng.uniform(sizes, h - sizes)], axis=1)
    colors = np.stack([_pick_other(rng, style.shape_colors, None) for _ in range(n)])
    if style.motion == "bounce":
        heading = rng.uniform(0, 2 * np.pi, n)
        velocity = style.speed * h * np.stack([np.cos(heading), np.sin(heading)], axis=1)
    else:  # drift: (phase, angular frequency) per shape, periods 3-5 s
        velocity = np.stack([rng.uniform(0, 2 * np.pi, n), 2 * np.pi / rng.uniform(3.0, 5.0, n)], axis=1)
    background = _pick_other(rng, style.backgrounds, None if previous is None else previous.background)
    return Layout(frame, background, centers, sizes, colors, velocity, rng.uniform(0, 2 * np.pi, n),
                  float(rng.uniform(0, np.pi)))


def _burst(rng: np.random.Generator, style: SceneStyle, cfg: WorldConfig, frame: int, lay: Layout) -> Layout:
    """Same background; every shape jumps by at least MIN_JUMP frame heights and changes colour.
    Rotations (shapes, stripes) carry on from where they were, so only the shapes jump."""
    h, w = cfg.height, cfg.width
    old = _positions(style, lay, frame, cfg)
    centers = old.copy()
    for i, r in enumerate(lay.sizes):
        for _ in range(100):  # rejection sampling; at the default sizes a jump always fits (else: last try)
            c = np.array([rng.uniform(r, w - r), rng.uniform(r, h - r)])
            if np.hypot(*(c - old[i])) >= MIN_JUMP * h:
                break
        centers[i] = c
    colors = np.stack([_pick_other(rng, style.shape_colors, c) for c in lay.colors])
    elapsed = (frame - lay.start_frame) / cfg.fps
    return Layout(frame, lay.background, centers, lay.sizes, colors, lay.velocity,
                  lay.angles + style.spin_rad_s * elapsed, lay.stripe_angle + STRIPE_SPIN * style.spin_rad_s * elapsed)


def _positions(style: SceneStyle, lay: Layout, frame: int, cfg: WorldConfig) -> np.ndarray:
    """Shape centres at `frame`: a smooth function of the time since the layout began."""
    t = (frame - lay.start_frame) / cfg.fps
    if style.motion == "bounce":
        # Straight lines reflected at the borders: fold the free path into [r, size - r] (triangle wave).
        lo = lay.sizes[:, None]
        span = np.array([cfg.width, cfg.height])[None, :] - 2 * lo
        u = lay.centers + lay.velocity * t - lo
        return lo + span - np.abs(np.mod(u, 2 * span) - span)
    # Drift (and spin): an elliptic sway around the layout's centres.
    phase, omega = lay.velocity[:, 0], lay.velocity[:, 1]
    amp = style.speed * cfg.height
    sway = np.stack([np.sin(phase + omega * t) - np.sin(phase), 0.6 * (np.cos(phase + omega * t) - np.cos(phase))], 1)
    return lay.centers + amp * sway


def _draw(style: SceneStyle, lay: Layout, frame: int, cfg: WorldConfig, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """One frame (H, W, 3) float in 0..255: background, stripes, then anti-aliased shapes in order."""
    t = (frame - lay.start_frame) / cfg.fps
    shade = 1.0 - GRADIENT * yy / cfg.height
    img = lay.background[None, None, :] * shade[..., None]
    if style.stripes:
        a = lay.stripe_angle + STRIPE_SPIN * style.spin_rad_s * t
        u = (xx * np.cos(a) + yy * np.sin(a)) / (STRIPE_PERIOD * cfg.height)
        img = img * (1.0 + STRIPE_CONTRAST * np.sin(2 * np.pi * u))[..., None]
    for c, r, color, a0 in zip(_positions(style, lay, frame, cfg), lay.sizes, lay.colors, lay.angles):
        dx, dy = xx - c[0], yy - c[1]
        if style.shape == "circle":
            sdf = np.hypot(dx, dy) - r
        elif style.shape == "square":
            sdf = np.maximum(np.abs(dx), np.abs(dy)) - r
        else:  # equilateral triangle with inradius r: the farthest of its three edge half-planes
            normals = a0 + style.spin_rad_s * t + 2 * np.pi / 3 * np.arange(3)
            sdf = np.max(dx[None] * np.cos(normals)[:, None, None] + dy[None] * np.sin(normals)[:, None, None], 0) - r
        alpha = np.clip(0.5 - sdf, 0.0, 1.0)[..., None]  # one-pixel soft edge: sub-pixel motion stays small
        img = img * (1 - alpha) + color[None, None, :] * alpha
    return img


def render_frames(rng: np.random.Generator, class_name: str, event_frames: np.ndarray, event_kinds: list[str],
                  cfg: WorldConfig) -> np.ndarray:
    """All frames (duration_s * fps, height, width, 3) uint8 RGB of one clip of class `class_name`,
    with event `event_kinds[i]` starting exactly at frame `event_frames[i]`."""
    if class_name not in STYLES:
        raise ValueError(f"no scene style for class {class_name!r} (known: {', '.join(STYLES)})")
    style = STYLES[class_name]
    n_frames = int(round(cfg.duration_s * cfg.fps))
    if len(event_frames) != len(event_kinds):
        raise ValueError(f"{len(event_frames)} event frames but {len(event_kinds)} event kinds")
    if len(event_frames) and (min(event_frames) < 1 or max(event_frames) >= n_frames):
        # Frame 0 has no previous frame to differ from.
        raise ValueError(f"event frames must lie in [1, {n_frames}), got {list(event_frames)}")
    yy, xx = np.mgrid[0 : cfg.height, 0 : cfg.width].astype(np.float64) + 0.5  # pixel centres
    events = dict(zip((int(f) for f in event_frames), event_kinds))
    lay = _new_layout(rng, style, cfg, 0, None)
    flash_frame = None
    flash = np.asarray(style.flash_color, float)[None, None, :]
    out = np.empty((n_frames, cfg.height, cfg.width, 3), np.uint8)
    for f in range(n_frames):
        kind = events.get(f)
        if kind == "cut":
            lay, flash_frame = _new_layout(rng, style, cfg, f, lay), None  # a cut also ends a flash
        elif kind == "burst":
            lay = _burst(rng, style, cfg, f, lay)
        elif kind == "flash":
            flash_frame = f
        elif kind is not None:
            raise ValueError(f"unknown event kind {kind!r} (known: {', '.join(EVENT_KINDS)})")
        img = _draw(style, lay, f, cfg, yy, xx)
        if flash_frame is not None:
            w = FLASH_PEAK * np.exp(-(f - flash_frame) / (FLASH_DECAY_S * cfg.fps))
            img = img * (1 - w) + flash * w
        out[f] = np.clip(np.round(img), 0, 255).astype(np.uint8)
    return out
