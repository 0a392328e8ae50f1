//! The fault injector, a test hook compiled only with the `fault-injection`
//! feature (the tests turn it on through a dev-dependency on this package;
//! the release build `scripts/setup.sh` makes has none of it):
//! `EDGEPIPE_FAULT=panic:<thread>:<frame>` panics in the named engine thread
//! (`capture`, `infer`, `stages`) at that frame, so the tests can prove a
//! panic anywhere ends the run cleanly.

/// An engine thread the injector can hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thread {
    Capture,
    Infer,
    Stages,
}

/// Panic if the plan names `thread` at frame `at` (the injected bug).
#[cfg(feature = "fault-injection")]
pub fn check(thread: Thread, at: u64) {
    let plan = plan::of_process();
    let planned = match thread {
        Thread::Capture => plan.capture,
        Thread::Infer => plan.infer,
        Thread::Stages => plan.stages,
    };
    if planned == Some(at) {
        panic!("injected fault (EDGEPIPE_FAULT) at frame {at}");
    }
}

/// Without the feature: nothing (compiled away).
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn check(_thread: Thread, _at: u64) {}

#[cfg(feature = "fault-injection")]
pub mod plan {
    /// The frame to panic at, per thread.
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct FaultPlan {
        pub capture: Option<u64>,
        pub infer: Option<u64>,
        pub stages: Option<u64>,
    }

    /// The plan of this process (read from the environment once).
    pub fn of_process() -> &'static FaultPlan {
        static PLAN: std::sync::OnceLock<FaultPlan> = std::sync::OnceLock::new();
        PLAN.get_or_init(|| {
            std::env::var("EDGEPIPE_FAULT")
                .map(|v| parse(&v))
                .unwrap_or_default()
        })
    }

    pub fn parse(v: &str) -> FaultPlan {
        let mut plan = FaultPlan::default();
        for part in v.split(',') {
            let mut it = part.split(':');
            if let (Some("panic"), Some(thread), Some(Ok(frame)), None) =
                (it.next(), it.next(), it.next().map(str::parse), it.next())
            {
                match thread {
                    "capture" => plan.capture = Some(frame),
                    "infer" => plan.infer = Some(frame),
                    "stages" => plan.stages = Some(frame),
                    _ => {}
                }
            }
        }
        plan
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn fault_plans_parse() {
            assert_eq!(
                parse("panic:infer:5"),
                FaultPlan {
                    infer: Some(5),
                    ..Default::default()
                }
            );
            assert_eq!(parse("panic:nowhere:5,junk"), FaultPlan::default());
        }
    }
}
