//! `kaimeng dev`'s durability choice: block data unsynced unless asked, votes always synced.

use clap::Parser;
use kaimeng_shards::schema;

use super::store_options;
use crate::cli::{Cli, Command, DevArgs};

fn dev_args(extra: &[&str]) -> DevArgs {
    let cli = Cli::try_parse_from(["kaimeng", "dev"].iter().chain(extra)).unwrap();
    match cli.command {
        Command::Dev(args) => args,
        other => panic!("parsed as {other:?}"),
    }
}

#[test]
fn dev_stores_sync_votes_always_and_blocks_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let options = store_options(&dev_args(&[]));
    assert!(
        !options.sync_writes,
        "dev block data is unsynced by default"
    );
    let store = kaimeng_shards::open_store(dir.path(), &options).unwrap();
    assert!(
        store.syncs_every_write_to(schema::CONSENSUS),
        "a validator's votes are fsynced in dev too"
    );
    assert!(!store.syncs_every_write_to(schema::HEADERS));
    drop(store);

    let options = store_options(&dev_args(&["--sync-writes"]));
    assert!(options.sync_writes);
    let store = kaimeng_shards::open_store(dir.path(), &options).unwrap();
    assert!(store.syncs_every_write_to(schema::HEADERS));
    assert!(store.syncs_every_write_to(schema::CONSENSUS));
}
