"""occupancy-alert: raises an alert when too many people are in view, with
hysteresis so a count that flickers around the limit does not flap.

The alert goes on after `hold_frames` frames in a row with at least `high`
people, and off after `hold_frames` frames in a row with at most `low`.
Every frame it gives the stat `occupancy` = {"count", "alert", "alerts"};
on a change also `occupancy_alert` = {"state": "on"|"off", "count", "frame"}.
The alert, the streak and the number of alerts survive hot reloads.
"""

from edgepipe_sdk import Stats, export_stats, log, stat


class OccupancyAlert(Stats):
    def configure(self, settings):
        self.label = settings.text("label", "person")
        self.min_score = settings.number("min_score", 0.4)
        self.high = settings.number("high", 5)
        self.low = settings.number("low", 4)
        self.hold = settings.number("hold_frames", 3)
        if self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.hold < 1:
            raise ValueError(f"hold_frames ({self.hold}) must be at least 1")
        self.state = {"alert": False, "streak": 0, "alerts": 0}

    def update(self, info, detections):
        count = sum(1 for d in detections if d.label == self.label and d.score >= self.min_score)
        s = self.state
        # Count frames in a row that argue for the other state.
        leaving = count <= self.low if s["alert"] else count >= self.high
        s["streak"] = s["streak"] + 1 if leaving else 0
        out = []
        if s["streak"] >= self.hold:
            s["alert"] = not s["alert"]
            s["streak"] = 0
            if s["alert"]:
                s["alerts"] += 1
            state = "on" if s["alert"] else "off"
            log("info", f"occupancy alert {state}: {count} {self.label} at frame {info.index}")
            out.append(stat("occupancy_alert", {"state": state, "count": count, "frame": info.index}))
        out.insert(0, stat("occupancy", {"count": count, "alert": s["alert"], "alerts": s["alerts"]}))
        return out

    def finish(self):
        return [stat("occupancy_alerts", self.state["alerts"])]


WitWorld = export_stats(OccupancyAlert)
