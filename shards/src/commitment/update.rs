//! Incremental batch update: rewrite only the branches on the changed keys' paths.

use alloy_primitives::B256;
use rayon::prelude::*;

use super::nibble;
use super::node::{Branch, Child, NodePath};

/// Where the updater reads existing branches from (the store, or an overlay of pending writes).
pub trait NodeReader: Sync {
    type Error: Send;
    fn branch(&self, path: &NodePath) -> Result<Option<Branch>, Self::Error>;
    /// Called when a branch the tree refers to is missing: the store is corrupt.
    fn missing(&self, path: &NodePath) -> Self::Error;
}

/// The outcome of an update: the new root and the branch writes (`None` deletes) to persist.
#[derive(Debug, Default)]
pub struct TreeUpdate {
    pub root: Child,
    pub writes: Vec<(NodePath, Option<Branch>)>,
}

/// Batches smaller than this are updated on the calling thread.
const PARALLEL_THRESHOLD: usize = 256;

/// Applies `changes` (`None` deletes a key) to the tree whose root is `root`.
///
/// `changes` need not be sorted; later duplicates win.
pub fn update_tree<R: NodeReader>(
    reader: &R,
    root: &Child,
    changes: Vec<(B256, Option<B256>)>,
) -> Result<TreeUpdate, R::Error> {
    let mut changes = changes;
    changes.reverse();
    changes.sort_by(|a, b| a.0.cmp(&b.0)); // stable: the latest write of a key comes first
    changes.dedup_by(|later, earlier| later.0 == earlier.0);
    let mut writes = Vec::new();
    let root = update(
        reader,
        NodePath::default(),
        root.clone(),
        &changes,
        &mut writes,
    )?;
    Ok(TreeUpdate { root, writes })
}

type Writes = Vec<(NodePath, Option<Branch>)>;

fn update<R: NodeReader>(
    reader: &R,
    path: NodePath,
    current: Child,
    changes: &[(B256, Option<B256>)],
    writes: &mut Writes,
) -> Result<Child, R::Error> {
    if changes.is_empty() {
        return Ok(current);
    }
    match current {
        Child::Branch(_) => {
            let branch = reader.branch(&path)?.ok_or_else(|| reader.missing(&path))?;
            update_children(reader, path, branch, changes, writes)
        }
        Child::Leaf { key, value } => {
            let mut merged = changes.to_vec();
            if let Err(at) = merged.binary_search_by(|c| c.0.cmp(&key)) {
                merged.insert(at, (key, Some(value)));
            }
            update_children_from_scratch(reader, path, &merged, writes)
        }
        Child::Empty => update_children_from_scratch(reader, path, changes, writes),
    }
}

/// Builds the subtree at `path`, below which nothing is stored yet.
fn update_children_from_scratch<R: NodeReader>(
    reader: &R,
    path: NodePath,
    changes: &[(B256, Option<B256>)],
    writes: &mut Writes,
) -> Result<Child, R::Error> {
    let mut live = changes.iter().filter(|c| c.1.is_some());
    match (live.next(), live.next()) {
        (None, _) => Ok(Child::Empty),
        (Some((key, Some(value))), None) => Ok(Child::Leaf {
            key: *key,
            value: *value,
        }),
        _ => update_children(reader, path, Branch::default(), changes, writes),
    }
}

fn update_children<R: NodeReader>(
    reader: &R,
    path: NodePath,
    mut branch: Branch,
    changes: &[(B256, Option<B256>)],
    writes: &mut Writes,
) -> Result<Child, R::Error> {
    let depth = path.depth();
    let groups = split_by_nibble(changes, depth);
    if changes.len() >= PARALLEL_THRESHOLD {
        let results: Vec<Result<(u8, Child, Writes), R::Error>> = groups
            .into_par_iter()
            .map(|(n, group)| {
                let mut local = Vec::new();
                let child = update(
                    reader,
                    path.child(n),
                    branch.children[n as usize].clone(),
                    group,
                    &mut local,
                )?;
                Ok((n, child, local))
            })
            .collect();
        for result in results {
            let (n, child, local) = result?;
            branch.children[n as usize] = child;
            writes.extend(local);
        }
    } else {
        for (n, group) in groups {
            let child = update(
                reader,
                path.child(n),
                branch.children[n as usize].clone(),
                group,
                writes,
            )?;
            branch.children[n as usize] = child;
        }
    }
    Ok(finish_branch(path, branch, writes))
}

/// Stores the branch, or collapses it when fewer than two leaves remain below it.
fn finish_branch(path: NodePath, branch: Branch, writes: &mut Writes) -> Child {
    let mut present = branch.children.iter().filter(|c| !c.is_empty());
    match (present.next(), present.next()) {
        (None, _) => {
            writes.push((path, None));
            Child::Empty
        }
        (Some(leaf @ Child::Leaf { .. }), None) => {
            let leaf = leaf.clone();
            writes.push((path, None));
            leaf
        }
        _ => {
            let hash = branch.hash();
            writes.push((path, Some(branch)));
            Child::Branch(hash)
        }
    }
}

fn split_by_nibble(
    changes: &[(B256, Option<B256>)],
    depth: usize,
) -> Vec<(u8, &[(B256, Option<B256>)])> {
    let mut groups = Vec::new();
    let mut start = 0;
    while start < changes.len() {
        let n = nibble(&changes[start].0, depth);
        let len = changes[start..].partition_point(|c| nibble(&c.0, depth) == n);
        groups.push((n, &changes[start..start + len]));
        start += len;
    }
    groups
}
