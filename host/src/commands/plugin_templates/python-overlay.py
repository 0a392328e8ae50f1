"""{{name}}: an overlay stage (a draw stage that returns shapes: the host
paints them, the frame's pixels never travel into the stage).

Build, check, test (from this folder's parent):
  edgepipe plugin build {{name}}
  edgepipe plugin check {{name}}/{{name}}.wasm
  edgepipe plugin test {{name}}/{{name}}.wasm --input frames.jsonl --video clip.avi

In a pipeline it is a stage of kind = "draw".
"""

from edgepipe_sdk import Overlay, Shapes, export_overlay, text_width

GREEN = (0, 255, 0)  # (blue, green, red)
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)


class {{Class}}(Overlay):
    def configure(self, settings):
        self.thickness = settings.number("thickness", 2)
        self.min_score = settings.number("min_score", 0.5)

    def overlay(self, info, detections, stats):
        shapes = Shapes()
        shown = [d for d in detections if d.score >= self.min_score]
        for d in shown:
            # Whole pixels, truncated toward zero (as `int()` does).
            x, y = int(d.bbox.x), int(d.bbox.y)
            w, h = int(d.bbox.width), int(d.bbox.height)
            shapes.rect(x, y, x + w, y + h, self.thickness, GREEN)
            shapes.text(x, y - 10, d.label, 1, GREEN)
        # A half-transparent panel with the count in the top-left corner.
        label = f"{len(shown)} shown"
        shapes.blend(0, 0, text_width(label, 2) + 8, 24, BLACK, 128)
        shapes.text(4, 4, label, 2, WHITE)
        return shapes


WitWorld = export_overlay({{Class}})
