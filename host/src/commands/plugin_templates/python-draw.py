"""{{name}}: a draw stage (BGR24 pixels -> BGR24 pixels, same size).

Build, check, test (from this folder's parent):
  edgepipe plugin build {{name}}
  edgepipe plugin check {{name}}/{{name}}.wasm
  edgepipe plugin test {{name}}/{{name}}.wasm --input frames.jsonl --video clip.avi

Memory stays flat over a whole clip: `edgepipe plugin build` frees the
frame each call returns (componentize-py 0.25.1 would keep every one: see
plugins/sdk-python/README.md).
"""

from edgepipe_sdk import Draw, export_draw


class {{Class}}(Draw):
    def configure(self, settings):
        self.thickness = settings.number("thickness", 2)

    def draw(self, info, pixels, detections, stats):
        # A red bar across the top, as tall as `thickness` (keep per-frame work
        # small: a call has a deadline, 50 ms by default).
        out = bytearray(pixels)
        row = info.width * 3
        out[: row * self.thickness] = bytes((0, 0, 255)) * (info.width * self.thickness)
        return out  # a bytearray is fine: the SDK returns it as bytes


WitWorld = export_draw({{Class}})
