"""hostile-py: a Python stats stage that misbehaves on purpose, chosen by
its `mode` setting: `loop` (never returns), `alloc` (asks for 1 GiB), `ok`.
With `at = N` only on frame N. Counts the frames it saw (`seen`) in
`state`, so tests can tell whether state survived a fault."""

from edgepipe_sdk import Stats, export_stats, stat

MODES = ("ok", "loop", "alloc")


class Hostile(Stats):
    def configure(self, settings):
        self.mode = settings.text("mode", "ok")
        if self.mode not in MODES:
            raise ValueError(f"setting mode: unknown mode {self.mode!r}")
        self.at = settings.number("at", -1)
        self.state = {"seen": 0}

    def update(self, info, detections):
        if self.at < 0 or self.at == info.index:
            if self.mode == "loop":
                n = 0
                while True:
                    n += 1
            elif self.mode == "alloc":
                big = bytearray(1 << 30)
                big[-1] = 1
        self.state["seen"] += 1
        return [stat("seen", self.state["seen"])]


WitWorld = export_stats(Hostile)
