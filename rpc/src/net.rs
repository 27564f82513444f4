//! `net_*` and `web3_*`.

use std::sync::Arc;

use alloy_primitives::{B256, Bytes, U64, keccak256};

use crate::api::net::{NetApiServer, Web3ApiServer};
use crate::error::RpcResult;
use crate::node_status::NodeStatus;

pub struct NetRpc {
    pub chain_id: u64,
    pub status: Arc<dyn NodeStatus>,
}

impl NetApiServer for NetRpc {
    fn version(&self) -> RpcResult<String> {
        Ok(self.chain_id.to_string())
    }

    fn listening(&self) -> RpcResult<bool> {
        Ok(self.status.listening())
    }

    fn peer_count(&self) -> RpcResult<U64> {
        Ok(U64::from(self.status.peer_count()))
    }
}

pub struct Web3Rpc;

impl Web3ApiServer for Web3Rpc {
    fn client_version(&self) -> RpcResult<String> {
        Ok(crate::client_version())
    }

    fn sha3(&self, data: Bytes) -> RpcResult<B256> {
        Ok(keccak256(&data))
    }
}
