//! The writes of executed blocks that are not final yet, layered over the store, so the next
//! block can be built or checked on an unfinalized parent (the BFT engine proposes on notarized
//! blocks before they are final). Reads look through the layers newest first, then the store.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::commit::WriteOp;

type Key = (&'static str, Vec<u8>);

/// One block's writes: `Some(value)` for a put, `None` for a delete.
#[derive(Debug, Default)]
pub struct Layer {
    writes: HashMap<Key, Option<Vec<u8>>>,
}

impl Layer {
    pub fn from_ops<'a>(ops: impl IntoIterator<Item = &'a WriteOp>) -> Self {
        let mut writes = HashMap::new();
        for op in ops {
            match op {
                WriteOp::Put(column, key, value) => {
                    writes.insert((*column, key.clone()), Some(value.clone()))
                }
                WriteOp::Delete(column, key) => writes.insert((*column, key.clone()), None),
            };
        }
        Self { writes }
    }
}

/// The layers of a chain of unfinalized blocks, oldest first. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Layers(Vec<Arc<Layer>>);

impl Layers {
    /// These layers with `layer` on top.
    pub fn with(&self, layer: Layer) -> Self {
        let mut layers = self.0.clone();
        layers.push(Arc::new(layer));
        Self(layers)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The newest write of `key`: `None` when no layer touched it (read the store),
    /// `Some(None)` when it was deleted.
    pub fn get(&self, column: &'static str, key: &[u8]) -> Option<Option<&[u8]>> {
        let key = (column, key.to_vec());
        self.0
            .iter()
            .rev()
            .find_map(|layer| layer.writes.get(&key))
            .map(|value| value.as_deref())
    }

    /// Every write under `prefix` in `column`, newest winning, in key order.
    pub fn scan_prefix(
        &self,
        column: &'static str,
        prefix: &[u8],
    ) -> BTreeMap<Vec<u8>, Option<Vec<u8>>> {
        let mut merged = BTreeMap::new();
        for layer in &self.0 {
            for ((c, key), value) in &layer.writes {
                if *c == column && key.starts_with(prefix) {
                    merged.insert(key.clone(), value.clone());
                }
            }
        }
        merged
    }
}
