//! A client history of key-value operations: when each was invoked, when (and with what) it
//! returned, for the linearizability checker. An operation whose outcome is unknown (timed
//! out, or its member crashed) never returns: it may take effect at any point after its call.

use serde::{Deserialize, Serialize};

/// What a client asked of one key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KvInput {
    Put(String),
    Get,
    Delete,
    /// Put `value` if the key holds `expect` (`None`: if it is absent); a one-key etcd txn.
    Cas {
        expect: Option<String>,
        value: String,
    },
}

/// What the client got back.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KvOutput {
    Done,
    Value(Option<String>),
    Swapped(bool),
}

/// One operation: invoked at `call`, returned at `ret` with `output`, or never (`None`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    pub client: u64,
    pub key: String,
    pub input: KvInput,
    pub call: u64,
    pub ret: Option<(u64, KvOutput)>,
}

/// The operations of a run, in invocation order.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct History {
    ops: Vec<Operation>,
    /// Positions of operations that definitely had no effect (refused): left out of checks.
    dropped: Vec<bool>,
}

impl History {
    /// Records an invocation; returns its position for [`History::complete`].
    pub fn invoke(&mut self, client: u64, key: &str, input: KvInput, at: u64) -> usize {
        self.ops.push(Operation {
            client,
            key: key.to_string(),
            input,
            call: at,
            ret: None,
        });
        self.dropped.push(false);
        self.ops.len() - 1
    }

    /// Records a return.
    pub fn complete(&mut self, at_pos: usize, output: KvOutput, at: u64) {
        self.ops[at_pos].ret = Some((at, output));
    }

    /// Forgets an operation that certainly did not take effect (a refused write, a failed read).
    pub fn drop_op(&mut self, at_pos: usize) {
        self.dropped[at_pos] = true;
    }

    /// The operations to check: everything not dropped.
    pub fn operations(&self) -> Vec<Operation> {
        self.ops
            .iter()
            .zip(&self.dropped)
            .filter(|(_, dropped)| !**dropped)
            .map(|(op, _)| op.clone())
            .collect()
    }
}
