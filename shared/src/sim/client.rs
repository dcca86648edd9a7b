//! Simulated clients: requests go to one member (a linearizable get through a read index, a
//! write through a proposal), answers come back from its readies or not at all; each request
//! is recorded in the key-value [`History`](super::history::History) the linearizability checker reads.

use serde::{Deserialize, Serialize};

use super::history::{KvInput, KvOutput};
use super::{Simulator, TOKEN, peer_url};
use crate::member::{Bootstrap, MembershipChange, WriteResponse};
use crate::membership;
use crate::mvcc::{MvccError, MvccStore};
use crate::proto::etcdlab::raft_request::Op;
use crate::proto::etcdserverpb::{
    Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest, compare,
    request_op,
};
use redb::ReadableDatabase;

/// A client request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ClientOp {
    Put {
        key: String,
        value: String,
    },
    /// A get: linearizable (a read index confirmed by the leader), or `serializable` (etcd's
    /// `--consistency=s`: the member's own state at once, possibly stale).
    Get {
        key: String,
        #[serde(default)]
        serializable: bool,
    },
    Delete {
        key: String,
    },
    /// A one-key txn: put `value` if the key holds `expect` (absent when `None`).
    Cas {
        key: String,
        expect: Option<String>,
        value: String,
    },
    /// `member add`; once committed the simulator starts the new member.
    MemberAdd {
        name: String,
    },
    /// `member remove`; once committed the removed member stops for good.
    MemberRemove {
        name: String,
    },
}

/// How a client request ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Done,
    /// A delete's answer: how many keys it removed.
    Deleted(i64),
    Value(Option<String>),
    Swapped(bool),
    /// Refused: it certainly had no effect.
    Failed(String),
    /// No answer in time, or its member crashed: it may or may not have taken effect.
    Unknown,
}

/// What a request waits for.
pub(super) enum Waiting {
    Write,
    /// A read: the applied index to serve it at once known (0 for a serializable read).
    Read {
        key: String,
        index: Option<u64>,
    },
    MemberAdd {
        name: String,
        id: u64,
    },
    MemberRemove {
        node: usize,
    },
}

/// A request sent and not answered yet.
pub(super) struct Pending {
    pub(super) node: usize,
    pub(super) waiting: Waiting,
    pub(super) deadline_ms: u64,
    /// Its place in the history (key-value requests).
    pub(super) history: Option<usize>,
}

impl Simulator {
    /// Sends a client request to `target` (a member's name; a random running member if
    /// `None`) and returns its id; the outcome comes later from [`Simulator::take_results`].
    pub fn client(&mut self, op: ClientOp, target: Option<&str>) -> u64 {
        let request = self.next_request;
        self.next_request += 1;
        let node = match target {
            Some(name) => self
                .node_index(name)
                .filter(|i| self.nodes[*i].member.is_some()),
            None => {
                let running: Vec<usize> = (0..self.nodes.len())
                    .filter(|i| self.nodes[*i].member.is_some())
                    .collect();
                (!running.is_empty()).then(|| running[self.rng.index(running.len())])
            }
        };
        let kv = match &op {
            ClientOp::Put { key, value } => Some((key, KvInput::Put(value.clone()))),
            ClientOp::Get { key, .. } => Some((key, KvInput::Get)),
            ClientOp::Delete { key } => Some((key, KvInput::Delete)),
            ClientOp::Cas { key, expect, value } => Some((
                key,
                KvInput::Cas {
                    expect: expect.clone(),
                    value: value.clone(),
                },
            )),
            _ => None,
        };
        let history = kv.map(|(key, input)| self.history.invoke(request, key, input, self.now_ms));
        let Some(node) = node else {
            self.finish(
                request,
                history,
                Outcome::Failed("no member running there".into()),
            );
            return request;
        };
        let waiting = match self.submit(node, request, op) {
            Ok(waiting) => waiting,
            Err(e) => {
                self.finish(request, history, Outcome::Failed(e));
                return request;
            }
        };
        let deadline_ms = self.now_ms + self.config.request_timeout_ms;
        self.pending.insert(
            request,
            Pending {
                node,
                waiting,
                deadline_ms,
                history,
            },
        );
        self.drive(node);
        request
    }

    /// Hands a request to the member at `node`.
    fn submit(&mut self, node: usize, request: u64, op: ClientOp) -> Result<Waiting, String> {
        let (waiting, proposed) = match op {
            ClientOp::Get { key, serializable } => {
                let index = if serializable {
                    Some(0)
                } else {
                    let ctx = request.to_be_bytes().to_vec();
                    self.with_member(node, |m| m.read_index(ctx));
                    None
                };
                return Ok(Waiting::Read { key, index });
            }
            ClientOp::MemberAdd { name } => {
                if self.node_index(&name).is_some() {
                    return Err(format!("member {name} exists"));
                }
                let peer_urls = vec![peer_url(&name)];
                let added_at = (self.now_ms / 1000) as i64;
                let id = membership::member_id(&peer_urls, TOKEN, Some(added_at));
                let change = MembershipChange::Add {
                    id,
                    peer_urls,
                    is_learner: false,
                };
                let proposed = self.with_member(node, |m| m.propose_membership(change, request));
                (Waiting::MemberAdd { name, id }, proposed)
            }
            ClientOp::MemberRemove { name } => {
                let removed = self.node_index(&name).ok_or(format!("no member {name}"))?;
                let change = MembershipChange::Remove {
                    id: self.nodes[removed].config.id,
                };
                let proposed = self.with_member(node, |m| m.propose_membership(change, request));
                (Waiting::MemberRemove { node: removed }, proposed)
            }
            ClientOp::Put { key, value } => {
                let op = Op::Put(PutRequest {
                    key: key.into_bytes(),
                    value: value.into_bytes(),
                    ..Default::default()
                });
                (
                    Waiting::Write,
                    self.with_member(node, |m| m.propose(op, request)),
                )
            }
            ClientOp::Delete { key } => {
                let op = Op::DeleteRange(DeleteRangeRequest {
                    key: key.into_bytes(),
                    ..Default::default()
                });
                (
                    Waiting::Write,
                    self.with_member(node, |m| m.propose(op, request)),
                )
            }
            ClientOp::Cas { key, expect, value } => {
                let op = Op::Txn(cas_request(key, expect, value));
                (
                    Waiting::Write,
                    self.with_member(node, |m| m.propose(op, request)),
                )
            }
        };
        match proposed {
            Some(Ok(())) => Ok(waiting),
            Some(Err(e)) => Err(e.to_string()),
            None => Err("member not running".into()),
        }
    }

    /// Ends a request without an answer: a write may have happened, a read did not.
    pub(super) fn give_up(&mut self, request: u64) {
        let Some(p) = self.pending.remove(&request) else {
            return;
        };
        let outcome = match p.waiting {
            Waiting::Read { .. } => Outcome::Failed("timed out".into()),
            _ => Outcome::Unknown,
        };
        self.finish(request, p.history, outcome);
    }

    /// Serves the reads at `node` whose read index the member has applied.
    pub(super) fn serve_reads(&mut self, node: usize) {
        let Some(applied) = self.nodes[node]
            .member
            .as_ref()
            .map(|m| m.status().applied_index)
        else {
            return;
        };
        let ready: Vec<(u64, String)> = self
            .pending
            .iter()
            .filter_map(|(r, p)| match &p.waiting {
                Waiting::Read {
                    key,
                    index: Some(i),
                } if p.node == node && *i <= applied => Some((*r, key.clone())),
                _ => None,
            })
            .collect();
        for (request, key) in ready {
            let p = self.pending.remove(&request).expect("listed above");
            let outcome = match self.read(node, &key) {
                Ok(value) => Outcome::Value(value),
                Err(e) => Outcome::Failed(e),
            };
            self.finish(request, p.history, outcome);
        }
    }

    fn read(&self, node: usize, key: &str) -> Result<Option<String>, String> {
        let txn = self.nodes[node]
            .db
            .begin_read()
            .map_err(|e| e.to_string())?;
        let range = RangeRequest {
            key: key.as_bytes().to_vec(),
            ..Default::default()
        };
        let resp = MvccStore::range(&txn, &range).map_err(|e| e.to_string())?;
        Ok(resp
            .kvs
            .first()
            .map(|kv| String::from_utf8_lossy(&kv.value).into_owned()))
    }

    /// A member's answer to one of its proposals.
    pub(super) fn answer(&mut self, request: u64, result: Result<WriteResponse, MvccError>) {
        let Some(p) = self.pending.remove(&request) else {
            return;
        };
        let origin = self.nodes[p.node].config.id;
        let outcome = match (p.waiting, result) {
            (_, Err(e)) => Outcome::Failed(e.to_string()),
            (Waiting::MemberAdd { name, id }, Ok(_)) => {
                let bootstrap = Bootstrap::JoinExisting {
                    cluster_id: self.cluster_id,
                };
                self.add_node(&name, id, bootstrap);
                Outcome::Done
            }
            (Waiting::MemberRemove { node }, Ok(_)) => {
                // Stopped already if it applied its removal; if not (cut off), stopped now.
                self.nodes[node].removed = true;
                let name = self.nodes[node].name.clone();
                let _ = self.stop(&name, "removed from the cluster");
                Outcome::Done
            }
            (_, Ok(response)) => {
                if self.config.check_invariants
                    && let Err(e) = self.invariants.acknowledged(origin, request)
                {
                    self.fail(e);
                }
                match response {
                    WriteResponse::Txn(r) => Outcome::Swapped(r.succeeded),
                    WriteResponse::DeleteRange(r) => Outcome::Deleted(r.deleted),
                    _ => Outcome::Done,
                }
            }
        };
        self.finish(request, p.history, outcome);
    }

    /// Records how a request ended, in the results and the history.
    fn finish(&mut self, request: u64, history: Option<usize>, outcome: Outcome) {
        if let Some(at) = history {
            match &outcome {
                Outcome::Done | Outcome::Deleted(_) => {
                    self.history.complete(at, KvOutput::Done, self.now_ms)
                }
                Outcome::Value(v) => {
                    self.history
                        .complete(at, KvOutput::Value(v.clone()), self.now_ms)
                }
                Outcome::Swapped(s) => {
                    self.history
                        .complete(at, KvOutput::Swapped(*s), self.now_ms)
                }
                Outcome::Failed(_) => self.history.drop_op(at),
                Outcome::Unknown => {}
            }
        }
        self.results.push((request, outcome));
    }
}

/// A txn that puts `value` under `key` if the key holds `expect` (or is absent when `None`).
fn cas_request(key: String, expect: Option<String>, value: String) -> TxnRequest {
    let key = key.into_bytes();
    let compare = match expect {
        Some(v) => Compare {
            result: compare::CompareResult::Equal as i32,
            target: compare::CompareTarget::Value as i32,
            key: key.clone(),
            target_union: Some(compare::TargetUnion::Value(v.into_bytes())),
            ..Default::default()
        },
        None => Compare {
            result: compare::CompareResult::Equal as i32,
            target: compare::CompareTarget::Version as i32,
            key: key.clone(),
            target_union: Some(compare::TargetUnion::Version(0)),
            ..Default::default()
        },
    };
    let put = PutRequest {
        key,
        value: value.into_bytes(),
        ..Default::default()
    };
    TxnRequest {
        compare: vec![compare],
        success: vec![RequestOp {
            request: Some(request_op::Request::RequestPut(put)),
        }],
        failure: vec![],
    }
}
