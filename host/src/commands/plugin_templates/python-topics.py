"""{{name}}: a topics stage (stats -> MQTT messages).

Build, check, test (from this folder's parent):
  edgepipe plugin build {{name}}
  edgepipe plugin check {{name}}/{{name}}.wasm
  edgepipe plugin test {{name}}/{{name}}.wasm --input frames.jsonl --stats-plugin people-counter.wasm
"""

from edgepipe_sdk import Topics, export_topics, message, stats_dict


class {{Class}}(Topics):
    def configure(self, settings):
        self.prefix = settings.text("prefix", "{{name}}")
        self.qos = settings.number("qos", 1)
        # self.state is saved as JSON and survives hot reloads.
        self.state = {"last": None}

    def route(self, info, stats):
        s = stats_dict(stats)
        if s.get("count") == self.state["last"]:
            return []
        self.state["last"] = s.get("count")
        # info.camera: the camera the frame is from ("default" with one source).
        payload = {"count": s.get("count"), "frame": info.index, "camera": info.camera}
        return [message(f"{self.prefix}/count", payload, self.qos)]

    def finish(self, stats):
        return [message(f"{self.prefix}/total", stats_dict(stats), self.qos, retain=True)]


WitWorld = export_topics({{Class}})
