//! The measured phase's transport: `eth_sendRawTransaction` bodies encoded before the clock
//! starts, posted over keep-alive HTTP/1.1 connections (hyper, one per request in flight).
//!
//! A general JSON-RPC client spends more CPU per request than the node it measures can afford
//! to lose on a machine both share; this path only writes ready bytes and reads the answers.

use alloy_primitives::B256;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{
    Request, StatusCode, Uri,
    client::conn::http1::{self, SendRequest},
    header,
};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::net::TcpStream;

use super::txs::SignedTx;

const METHOD: &str = "eth_sendRawTransaction";

/// The request body carrying `txs`: a single call for one transaction, else a batch whose
/// call ids are the positions in `txs`.
pub fn send_raw_body(txs: &[SignedTx]) -> Bytes {
    let call = |id: usize, tx: &SignedTx| {
        format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"{METHOD}","params":["{}"]}}"#,
            tx.raw_hex
        )
    };
    let body = match txs {
        [tx] => call(0, tx),
        _ => {
            let mut body = String::from("[");
            for (id, tx) in txs.iter().enumerate() {
                if id > 0 {
                    body.push(',');
                }
                body.push_str(&call(id, tx));
            }
            body.push(']');
            body
        }
    };
    Bytes::from(body)
}

#[derive(Deserialize)]
struct Answer {
    id: Option<usize>,
    result: Option<B256>,
    error: Option<AnswerError>,
}

#[derive(Deserialize)]
struct AnswerError {
    message: String,
}

/// Reads the node's answer to [`send_raw_body`]`(txs)`: one entry per transaction, `Ok` when
/// the node accepted it and returned its hash, else what went wrong.
pub fn read_send_raw_answers(body: &[u8], txs: &[SignedTx]) -> Vec<Result<(), String>> {
    let answers: Result<Vec<Answer>, _> = match txs {
        [_] => serde_json::from_slice::<Answer>(body).map(|a| vec![a]),
        _ => serde_json::from_slice(body),
    };
    let answers = match answers {
        Ok(answers) => answers,
        Err(err) => {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            return vec![Err(format!("{METHOD}: unreadable answer ({err}): {text}")); txs.len()];
        }
    };
    let mut outcome = vec![Err(format!("{METHOD}: no answer for this transaction")); txs.len()];
    for answer in answers {
        let Some(id) = answer.id.filter(|id| *id < txs.len()) else {
            continue;
        };
        let expected = txs[id].hash;
        outcome[id] = match (answer.result, answer.error) {
            (_, Some(error)) => Err(error.message),
            (Some(hash), None) if hash == expected => Ok(()),
            (Some(hash), None) => Err(format!("node returned hash {hash}, expected {expected}")),
            (None, None) => Err(format!("{METHOD}: answer without result or error")),
        };
    }
    outcome
}

/// One keep-alive HTTP/1.1 connection to a JSON-RPC endpoint.
pub struct Poster {
    uri: Uri,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Poster {
    /// A poster for `url` (`http://host:port[/path]`); it connects on first use.
    pub fn new(url: &str) -> Result<Self, String> {
        let uri: Uri = url
            .parse()
            .map_err(|err| format!("bad RPC URL {url}: {err}"))?;
        if uri.scheme_str() != Some("http") || uri.authority().is_none() {
            return Err(format!("bad RPC URL {url}: expected http://host:port"));
        }
        Ok(Self { uri, sender: None })
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let authority = self.uri.authority().expect("checked in new");
        let address = format!(
            "{}:{}",
            authority.host(),
            authority.port_u16().unwrap_or(80)
        );
        let stream = TcpStream::connect(&address)
            .await
            .map_err(|err| format!("cannot connect to {address}: {err}"))?;
        stream
            .set_nodelay(true)
            .map_err(|err| format!("TCP_NODELAY on {address}: {err}"))?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|err| format!("HTTP handshake with {address}: {err}"))?;
        tokio::spawn(connection);
        Ok(sender)
    }

    /// Posts `body` and returns the answer's body. A broken connection is replaced by a new
    /// one on the next call.
    pub async fn post(&mut self, body: Bytes) -> Result<Bytes, String> {
        let mut sender = match self.sender.take() {
            Some(sender) if !sender.is_closed() => sender,
            _ => self.connect().await?,
        };
        let request = Request::post(self.uri.clone())
            .header(
                header::HOST,
                self.uri.authority().expect("checked").as_str(),
            )
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .map_err(|err| format!("building the request: {err}"))?;
        sender
            .ready()
            .await
            .map_err(|err| format!("connection lost: {err}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|err| format!("HTTP request failed: {err}"))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|err| format!("reading the answer: {err}"))?
            .to_bytes();
        self.sender = Some(sender);
        if status != StatusCode::OK {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            return Err(format!("HTTP {status}: {text}"));
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(n: u8) -> SignedTx {
        SignedTx {
            hash: B256::repeat_byte(n),
            raw_hex: format!("0x{n:02x}"),
        }
    }

    #[test]
    fn one_transaction_is_a_single_call_and_several_a_batch_with_positional_ids() {
        let one: serde_json::Value = serde_json::from_slice(&send_raw_body(&[tx(1)])).unwrap();
        assert_eq!(one["method"], METHOD);
        assert_eq!(one["params"][0], "0x01");
        let two: serde_json::Value =
            serde_json::from_slice(&send_raw_body(&[tx(1), tx(2)])).unwrap();
        assert_eq!(two[1]["id"], 1);
        assert_eq!(two[1]["params"][0], "0x02");
    }

    #[test]
    fn answers_are_matched_by_id_and_checked_against_the_hash() {
        let txs = [tx(1), tx(2), tx(3), tx(4)];
        let body = format!(
            r#"[{{"jsonrpc":"2.0","id":2,"error":{{"code":-32000,"message":"nonce too low"}}}},
                {{"jsonrpc":"2.0","id":0,"result":"{}"}},
                {{"jsonrpc":"2.0","id":1,"result":"{}"}}]"#,
            B256::repeat_byte(1),
            B256::repeat_byte(9)
        );
        let answers = read_send_raw_answers(body.as_bytes(), &txs);
        assert_eq!(answers[0], Ok(()));
        assert!(answers[1].as_ref().unwrap_err().contains("expected"));
        assert_eq!(answers[2], Err("nonce too low".to_owned()));
        assert!(answers[3].as_ref().unwrap_err().contains("no answer"));
    }

    #[test]
    fn an_unreadable_answer_fails_every_transaction_with_its_text() {
        let answers = read_send_raw_answers(b"<html>busy</html>", &[tx(1), tx(2)]);
        assert_eq!(answers.len(), 2);
        assert!(
            answers
                .iter()
                .all(|a| a.as_ref().unwrap_err().contains("<html>busy"))
        );
    }
}
