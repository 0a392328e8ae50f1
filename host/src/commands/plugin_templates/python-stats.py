"""{{name}}: a stats stage (detections -> stats).

Build, check, test, run (from this folder's parent):
  edgepipe plugin build {{name}}
  edgepipe plugin check {{name}}/{{name}}.wasm
  edgepipe plugin test {{name}}/{{name}}.wasm --input frames.jsonl
"""

from edgepipe_sdk import Stats, export_stats, stat


class {{Class}}(Stats):
    def configure(self, settings):
        self.label = settings.text("label", "person")
        self.min_score = settings.number("min_score", 0.5)
        # self.state is saved as JSON and survives hot reloads.
        self.state = {"frames_with": 0}

    def update(self, info, detections):
        n = sum(1 for d in detections if d.label == self.label and d.score >= self.min_score)
        if n > 0:
            self.state["frames_with"] += 1
        return [stat(self.label, n), stat(f"{self.label}_frames", self.state["frames_with"])]

    def finish(self):
        return [stat(f"{self.label}_frames", self.state["frames_with"])]


WitWorld = export_stats({{Class}})
