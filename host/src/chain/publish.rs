//! A chain's output onto an MQTT connection: a message the connection
//! refuses (larger than the limit) is counted against the stage that
//! returned it and reported as that stage's event.

use super::{Chain, ChainOutput};
use crate::mqtt::Publisher;

pub fn publish_chain_output(p: &mut Publisher, chain: &mut Chain, out: &ChainOutput, frame: u64) {
    for (m, &i) in out.messages.iter().zip(&out.origins) {
        if let Err(why) = p.publish_from(chain.stage_name(i), m) {
            chain.message_refused(i, &why.to_string(), frame);
        }
    }
}
