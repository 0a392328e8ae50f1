//! class-names: the distinct labels detected in each frame, as the stat
//! `class_names` (a JSON array, sorted), for the course's `class` topic
//! `{"class_names":[...]}` (routed by course-topics).
//!
//! Settings: `min_score` (default 0: every detection the host passes).

use edgepipe_sdk::{log, parse_setting, Detection, FrameInfo, Level, Settings, Stat, Stats};

#[derive(Default)]
struct ClassNames {
    min_score: f32,
}

impl Stats for ClassNames {
    fn configure(&mut self, settings: Settings) -> Result<(), String> {
        let min_score: f32 = parse_setting(&settings, "min_score", 0.0)?;
        if !min_score.is_finite() {
            return Err(format!(
                "setting `min_score`: {min_score} is not a finite number"
            ));
        }
        for (k, _) in settings.iter().filter(|(k, _)| k != "min_score") {
            log(
                Level::Warn,
                &format!("class-names: unknown setting `{k}` ignored (known: min_score)"),
            );
        }
        self.min_score = min_score;
        Ok(())
    }

    fn update(&mut self, _info: FrameInfo, detections: Vec<Detection>) -> Vec<Stat> {
        let mut names: Vec<&str> = detections
            .iter()
            .filter(|d| d.score >= self.min_score)
            .map(|d| d.label.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        let value = serde_json::to_string(&names).unwrap_or_else(|_| "[]".to_string());
        vec![Stat {
            name: "class_names".to_string(),
            value,
        }]
    }
}

edgepipe_sdk::export_stats!(ClassNames);
