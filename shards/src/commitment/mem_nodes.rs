//! An in-memory node store for tests: the tree as the node builds it, by incremental updates.

use std::collections::HashMap;

use alloy_primitives::B256;

use super::{Branch, Child, NodePath, NodeReader, update_tree};

#[derive(Default)]
pub(crate) struct MemNodes {
    pub(crate) branches: HashMap<NodePath, Branch>,
    pub(crate) root: Child,
}

impl NodeReader for MemNodes {
    type Error = String;
    fn branch(&self, path: &NodePath) -> Result<Option<Branch>, String> {
        Ok(self.branches.get(path).cloned())
    }
    fn missing(&self, path: &NodePath) -> String {
        format!("missing branch at {path:?}")
    }
}

impl MemNodes {
    pub(crate) fn apply(&mut self, changes: Vec<(B256, Option<B256>)>) {
        let update = update_tree(self, &self.root, changes).unwrap();
        for (path, branch) in update.writes {
            match branch {
                Some(b) => self.branches.insert(path, b),
                None => self.branches.remove(&path),
            };
        }
        self.root = update.root;
    }
}
