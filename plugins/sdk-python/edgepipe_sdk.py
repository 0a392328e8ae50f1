"""edgepipe SDK for Python stages (componentize-py, edgepipe:plugin@0.4.0).

Subclass `Stats`, `Topics`, `Overlay` or `Draw`, override what you need
(every method has a default), keep what must survive a hot reload in
`self.state` (a dict saved as JSON), and end the module with
`WitWorld = export_stats(MyStage)` (or `export_topics`, `export_overlay`,
`export_draw`).

Why the export helpers: componentize-py makes a new `WitWorld` object for each
exported function, so state kept on that object in `update` would not be seen
by `save`. The helpers keep ONE instance of your class at module level and
forward every export to it.
"""

import json

from componentize_py_types import Err
from wit_world.imports import types
from wit_world.imports.host import Level, log as _host_log

FrameInfo = types.FrameInfo
Detection = types.Detection
Rect = types.Rect
Stat = types.Stat
Message = types.Message
Qos = types.Qos

# The host draws at most this many characters of a text shape, in an 8x8 font.
MAX_TEXT_CHARS = 48
_I32 = (-(1 << 31), (1 << 31) - 1)

QOS_BY_LEVEL = {0: Qos.AT_MOST_ONCE, 1: Qos.AT_LEAST_ONCE, 2: Qos.EXACTLY_ONCE}


def log(level, message):
    """Write a line to the host's log (stderr), tagged with the stage's name.
    `level`: "trace", "debug", "info", "warn", "error" or a `Level`."""
    if isinstance(level, str):
        level = Level[level.upper()]
    _host_log(level, str(message))


def stat(name, value):
    """A stat whose value is `value` encoded as JSON (numbers, dicts, lists...)."""
    return Stat(name=name, value=json.dumps(value, separators=(",", ":")))


def stats_dict(stats):
    """The stats a topics or draw stage receives, as {name: decoded JSON value}."""
    out = {}
    for s in stats:
        try:
            out[s.name] = json.loads(s.value)
        except ValueError:
            out[s.name] = s.value
    return out


def message(topic, payload, qos=1, retain=False):
    """An MQTT message; a payload that is not a str is encoded as JSON."""
    if not isinstance(payload, str):
        payload = json.dumps(payload, separators=(",", ":"))
    if qos not in QOS_BY_LEVEL:
        raise ValueError(f"qos {qos!r}: not 0, 1 or 2")
    return Message(topic=topic, payload=payload, qos=QOS_BY_LEVEL[qos], retain=retain)


class Settings(dict):
    """The stage's settings (all strings), with typed getters and defaults."""

    def text(self, key, default=""):
        return self.get(key, default)

    def number(self, key, default):
        if key not in self:
            return default
        try:
            v = float(self[key])
        except ValueError:
            raise ValueError(f"setting {key} = {self[key]!r}: not a number")
        return int(v) if isinstance(default, int) and v.is_integer() else v

    def flag(self, key, default=False):
        if key not in self:
            return default
        v = self[key].strip().lower()
        if v in ("true", "1", "yes", "on"):
            return True
        if v in ("false", "0", "no", "off"):
            return False
        raise ValueError(f"setting {key} = {self[key]!r}: not true or false")


class Stage:
    """What every world shares: settings, and `state` carried over reloads."""

    def __init__(self):
        self.settings = Settings()
        # Saved as JSON by `save` and given back by `restore`: keep here what a
        # new version of the stage must carry on with (counters, totals...).
        self.state = {}

    def configure(self, settings):
        """Read `settings` (a `Settings`); raise ValueError to refuse them."""

    def save(self):
        return json.dumps(self.state, separators=(",", ":")).encode()

    def restore(self, state):
        if state:
            self.state = json.loads(bytes(state).decode())


class Stats(Stage):
    def update(self, info, detections):
        return []

    def finish(self):
        return []


class Topics(Stage):
    def route(self, info, stats):
        return []

    def finish(self, stats):
        return []


def _int(v, lo, hi):
    """`v` truncated toward zero and saturated to [lo, hi], as the Rust SDK
    does (`as` casts): NaN is 0, infinities the bounds."""
    if v != v:
        return max(lo, min(0, hi))
    if v in (float("inf"), float("-inf")):
        return hi if v > 0 else lo
    return max(lo, min(int(v), hi))


def _c32(v):
    return _int(v, *_I32)


def _colour(c):
    """`(blue, green, red)` -> the contract's `Bgr`."""
    b, g, r = (_int(x, 0, 255) for x in c)
    return types.Bgr(b=b, g=g, r=r)


def _area(x0, y0, x1, y1):
    return types.Area(x0=_c32(x0), y0=_c32(y0), x1=_c32(x1), y1=_c32(y1))


def text_width(text, scale=1):
    """Width in pixels of `text` drawn at `scale` (the host's font is 8x8)."""
    return min(len(str(text)), MAX_TEXT_CHARS) * 8 * int(scale)


class Shapes(list):
    """The shapes of one frame, painted by the host in order, clipped to the
    frame. Colours are `(blue, green, red)`; rectangles are
    `[x0, x1) x [y0, y1)` in frame pixels. Numbers are truncated toward zero."""

    def fill(self, x0, y0, x1, y1, colour):
        """Fill a rectangle."""
        self.append(types.Shape_Fill(types.Fill(area=_area(x0, y0, x1, y1), colour=_colour(colour))))

    def blend(self, x0, y0, x1, y1, colour, alpha):
        """Mix `colour` into a rectangle with weight `alpha`/256."""
        a = _int(alpha, 0, 256)
        self.append(types.Shape_Blend(types.Blend(area=_area(x0, y0, x1, y1), colour=_colour(colour), alpha=a)))

    def rect(self, x0, y0, x1, y1, thickness, colour):
        """The outline of a rectangle, `thickness` pixels wide, inside it."""
        t = _int(thickness, 0, (1 << 32) - 1)
        if t > 0:
            self.append(types.Shape_Outline(types.Outline(area=_area(x0, y0, x1, y1), thickness=t, colour=_colour(colour))))

    def line(self, x0, y0, x1, y1, thickness, colour):
        """A line with a square brush `thickness` pixels wide (1 to 64)."""
        self.append(types.Shape_Line(types.Line(
            x0=_c32(x0), y0=_c32(y0), x1=_c32(x1), y1=_c32(y1),
            thickness=_int(thickness, 1, 64), colour=_colour(colour))))

    def text(self, x, y, text, scale, colour):
        """`text` (its first 48 characters) with its top-left corner at (x, y);
        a font pixel is `scale` x `scale` pixels (1 to 32)."""
        self.append(types.Shape_Text(types.Text(
            x=_c32(x), y=_c32(y), text=str(text)[:MAX_TEXT_CHARS],
            scale=_int(scale, 1, 32), colour=_colour(colour))))


class Overlay(Stage):
    def overlay(self, info, detections, stats):
        """Return the shapes to paint on the frame `info` describes: a
        `Shapes` (or any list of the contract's shapes). The frame's pixels
        never travel into the stage."""
        return Shapes()


class Draw(Stage):
    def draw(self, info, pixels, detections, stats):
        """`pixels`: the BGR24 frame (`bytes`, info.width x info.height x 3).
        Return the frame to show, same size: `bytes`, or a `bytearray` /
        `memoryview` (copied to `bytes` on the way out)."""
        return pixels


def _err(e):
    return Err(f"{type(e).__name__}: {e}" if not isinstance(e, ValueError) else str(e))


def _common(cls):
    """The exports every world has, forwarding to one module-level instance."""
    stage = cls()

    class Base:
        def configure(self, settings):
            try:
                stage.settings = Settings(settings)
                stage.configure(stage.settings)
            except Exception as e:
                raise _err(e)

        def save(self):
            return stage.save()

        def restore(self, state):
            try:
                stage.restore(state)
            except Exception as e:
                raise _err(e)

    return stage, Base


def export_stats(cls):
    """The `WitWorld` class componentize-py needs for a `Stats` subclass."""
    stage, Base = _common(cls)

    class WitWorld(Base):
        def update(self, info, detections):
            return stage.update(info, detections)

        def finish(self):
            return stage.finish()

    return WitWorld


def export_topics(cls):
    """The `WitWorld` class componentize-py needs for a `Topics` subclass."""
    stage, Base = _common(cls)

    class WitWorld(Base):
        def route(self, info, stats):
            return stage.route(info, stats)

        def finish(self, stats):
            return stage.finish(stats)

    return WitWorld


def export_overlay(cls):
    """The `WitWorld` class componentize-py needs for an `Overlay` subclass."""
    stage, Base = _common(cls)

    class WitWorld(Base):
        def overlay(self, info, detections, stats):
            return list(stage.overlay(info, detections, stats))

    return WitWorld


def export_draw(cls):
    """The `WitWorld` class componentize-py needs for a `Draw` subclass."""
    stage, Base = _common(cls)

    class WitWorld(Base):
        def draw(self, info, pixels, detections, stats):
            out = stage.draw(info, pixels, detections, stats)
            # componentize-py hands back `bytes` only (anything else traps).
            return out if isinstance(out, bytes) else bytes(out)

    return WitWorld
