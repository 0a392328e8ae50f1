//! A chain's output onto an MQTT connection: a message the connection
//! refuses (larger than the limit) is counted against the stage that
//! returned it and reported as that stage's event.

use super::{Chain, ChainOutput};
use crate::mqtt::Publisher;

pub fn publish_chain_output(p: &mut Publisher, chain: &mut Chain, out: &ChainOutput, frame: u64) {
    let msgs = out.messages.iter().zip(&out.origins);
    let refused = p.publish_all_from(msgs.clone().map(|(m, &i)| (chain.stage_name(i), m)));
    for (at, why) in refused {
        if let Some((_, &i)) = msgs.clone().nth(at) {
            chain.message_refused(i, &why.to_string(), frame);
        }
    }
}
