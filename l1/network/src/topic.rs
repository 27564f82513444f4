//! What the network carries and where: [`Chain`], [`Topic`], its [`TopicClass`] (which limits
//! apply), and the [`NetworkId`] that keeps networks of different genesis apart.
//!
//! Gossipsub topic names are `/kaimeng/<network id>/<topic>`, with `<topic>` one of
//! `consensus/<chain>`, `tx/<chain>` or `blocks/<chain>` and `<chain>` either `beacon` or
//! `shard-<i>`. The network id is the first 8 bytes of the genesis hash in hex, so nodes of two
//! different chains never share a topic or a protocol.

use std::fmt;

/// A chain the network carries traffic for: the beacon chain or one shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Chain {
    Beacon,
    Shard(u32),
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Chain::Beacon => f.write_str("beacon"),
            Chain::Shard(index) => write!(f, "shard-{index}"),
        }
    }
}

impl Chain {
    /// Parses the form [`Chain`]'s `Display` writes (`beacon`, `shard-3`).
    pub fn parse(text: &str) -> Option<Chain> {
        if text == "beacon" {
            return Some(Chain::Beacon);
        }
        let index = text.strip_prefix("shard-")?;
        // Only the canonical decimal form, so one chain has exactly one name.
        if index.is_empty() || (index.len() > 1 && index.starts_with('0')) {
            return None;
        }
        if !index.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        index.parse().ok().map(Chain::Shard)
    }
}

/// A gossip topic. Each class has its own per-peer limits ([`crate::Limits`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    /// Consensus messages (proposals, votes, certificates) of one chain's engine.
    Consensus(Chain),
    /// Transactions submitted to one chain.
    Transactions(Chain),
    /// Block announcements of one chain (contents are up to the node).
    Blocks(Chain),
}

/// The kind of traffic a topic carries; limits are set per class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TopicClass {
    Consensus,
    Transactions,
    Blocks,
}

impl TopicClass {
    pub const ALL: [TopicClass; 3] = [
        TopicClass::Consensus,
        TopicClass::Transactions,
        TopicClass::Blocks,
    ];

    pub(crate) fn index(self) -> usize {
        match self {
            TopicClass::Consensus => 0,
            TopicClass::Transactions => 1,
            TopicClass::Blocks => 2,
        }
    }

    fn label(self) -> &'static str {
        match self {
            TopicClass::Consensus => "consensus",
            TopicClass::Transactions => "tx",
            TopicClass::Blocks => "blocks",
        }
    }
}

impl Topic {
    pub fn class(self) -> TopicClass {
        match self {
            Topic::Consensus(_) => TopicClass::Consensus,
            Topic::Transactions(_) => TopicClass::Transactions,
            Topic::Blocks(_) => TopicClass::Blocks,
        }
    }

    pub fn chain(self) -> Chain {
        match self {
            Topic::Consensus(chain) | Topic::Transactions(chain) | Topic::Blocks(chain) => chain,
        }
    }

    pub(crate) fn new(class: TopicClass, chain: Chain) -> Topic {
        match class {
            TopicClass::Consensus => Topic::Consensus(chain),
            TopicClass::Transactions => Topic::Transactions(chain),
            TopicClass::Blocks => Topic::Blocks(chain),
        }
    }

    /// Parses the form `Display` writes (`consensus/beacon`, `tx/shard-0`).
    pub fn parse(text: &str) -> Option<Topic> {
        let (class, chain) = text.split_once('/')?;
        let class = TopicClass::ALL.into_iter().find(|c| c.label() == class)?;
        Some(Topic::new(class, Chain::parse(chain)?))
    }
}

/// `consensus/beacon`, `tx/shard-0`, `blocks/shard-2`: the topic without the network prefix.
/// This is also the label the metrics use.
impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.class().label(), self.chain())
    }
}

/// Which chain's network this is: the first 8 bytes of the genesis hash, in hex.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NetworkId(String);

impl NetworkId {
    pub fn from_genesis_hash(genesis_hash: &[u8; 32]) -> NetworkId {
        let hex: String = genesis_hash[..8]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        NetworkId(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The gossipsub topic name: `/kaimeng/<id>/<topic>`.
    pub fn topic_name(&self, topic: Topic) -> String {
        format!("/kaimeng/{}/{topic}", self.0)
    }

    /// The topic a gossipsub topic name stands for, if it is one of this network's.
    pub fn parse_topic_name(&self, name: &str) -> Option<Topic> {
        let rest = name
            .strip_prefix("/kaimeng/")?
            .strip_prefix(self.0.as_str())?;
        Topic::parse(rest.strip_prefix('/')?)
    }

    /// The request-response protocol (block sync and direct messages).
    pub fn request_protocol(&self) -> String {
        format!("/kaimeng/{}/req/1", self.0)
    }

    /// The identify protocol version; a peer announcing another one is on another network.
    pub fn identify_version(&self) -> String {
        format!("/kaimeng/{}/1", self.0)
    }
}

impl fmt::Display for NetworkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_round_trip() {
        let id = NetworkId::from_genesis_hash(&[0xab; 32]);
        assert_eq!(id.as_str(), "abababababababab");
        for topic in [
            Topic::Consensus(Chain::Beacon),
            Topic::Consensus(Chain::Shard(0)),
            Topic::Transactions(Chain::Shard(17)),
            Topic::Blocks(Chain::Shard(u32::MAX)),
        ] {
            let name = id.topic_name(topic);
            assert_eq!(id.parse_topic_name(&name), Some(topic), "{name}");
        }
        assert_eq!(
            id.topic_name(Topic::Consensus(Chain::Beacon)),
            "/kaimeng/abababababababab/consensus/beacon"
        );
        assert_eq!(
            Topic::Transactions(Chain::Shard(3)).to_string(),
            "tx/shard-3"
        );
    }

    #[test]
    fn foreign_or_odd_names_are_not_topics() {
        let id = NetworkId::from_genesis_hash(&[1; 32]);
        let other = NetworkId::from_genesis_hash(&[2; 32]);
        let name = other.topic_name(Topic::Consensus(Chain::Beacon));
        assert_eq!(id.parse_topic_name(&name), None);
        for bad in [
            "",
            "/kaimeng/0101010101010101",
            "/kaimeng/0101010101010101/",
            "/kaimeng/0101010101010101/consensus",
            "/kaimeng/0101010101010101/votes/beacon",
            "/kaimeng/0101010101010101/tx/shard-",
            "/kaimeng/0101010101010101/tx/shard-01",
            "/kaimeng/0101010101010101/tx/shard-+1",
            "/kaimeng/0101010101010101/tx/shard-4294967296",
            "/kaimeng/0101010101010101/tx/beacon/extra",
        ] {
            assert_eq!(id.parse_topic_name(bad), None, "{bad}");
        }
    }
}
