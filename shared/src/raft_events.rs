//! Translation of raft-rs's messages and state into [`EventKind`]s: which event a sent or
//! received message is, a member's [`Role`], and why a vote was refused (raft-rs refuses
//! without saying why, so the reason is worked out from the state it decided on).

use raft::eraftpb::{Message, MessageType};
use raft::{Raft, StateRole, Storage};

use crate::events::{EventKind, Role, hex_id};

/// The event for sending `msg` as `msg_id`; `refusal` explains a refused vote.
pub fn sent(msg: &Message, msg_id: u64, refusal: Option<String>) -> EventKind {
    let to = hex_id(msg.to);
    match msg.get_msg_type() {
        MessageType::MsgRequestVote | MessageType::MsgRequestPreVote => EventKind::VoteRequested {
            msg_id,
            to,
            pre_vote: msg.get_msg_type() == MessageType::MsgRequestPreVote,
            last_index: msg.index,
            last_term: msg.log_term,
        },
        MessageType::MsgRequestVoteResponse | MessageType::MsgRequestPreVoteResponse => {
            let pre_vote = msg.get_msg_type() == MessageType::MsgRequestPreVoteResponse;
            if msg.reject {
                EventKind::VoteRejected {
                    msg_id,
                    to,
                    pre_vote,
                    reason: refusal.unwrap_or_else(|| "refused".into()),
                }
            } else {
                EventKind::VoteGranted {
                    msg_id,
                    to,
                    pre_vote,
                }
            }
        }
        MessageType::MsgAppend => {
            let (first_index, last_index) = entry_range(msg);
            EventKind::AppendSent {
                msg_id,
                to,
                prev_index: msg.index,
                prev_term: msg.log_term,
                first_index,
                last_index,
                commit: msg.commit,
            }
        }
        MessageType::MsgAppendResponse if msg.reject => EventKind::AppendRejected {
            msg_id,
            to,
            rejected_index: msg.index,
            hint_index: msg.reject_hint,
        },
        MessageType::MsgAppendResponse => EventKind::AppendAcked {
            msg_id,
            to,
            match_index: msg.index,
        },
        MessageType::MsgHeartbeat => EventKind::HeartbeatSent {
            msg_id,
            to,
            commit: msg.commit,
        },
        MessageType::MsgHeartbeatResponse => EventKind::HeartbeatAcked { msg_id, to },
        MessageType::MsgSnapshot => {
            let snapshot = msg.get_snapshot();
            EventKind::SnapshotSent {
                msg_id,
                to,
                index: snapshot.get_metadata().index,
                snapshot_term: snapshot.get_metadata().term,
                bytes: snapshot.data.len() as u64,
            }
        }
        other => EventKind::MessageSent {
            msg_id,
            to,
            msg_type: format!("{other:?}"),
        },
    }
}

/// The event for receiving `msg`, which its sender sent as `msg_id`.
pub fn received(msg: &Message, msg_id: u64) -> EventKind {
    let from = hex_id(msg.from);
    match msg.get_msg_type() {
        MessageType::MsgAppend => {
            let (first_index, last_index) = entry_range(msg);
            EventKind::AppendReceived {
                msg_id,
                from,
                prev_index: msg.index,
                prev_term: msg.log_term,
                first_index,
                last_index,
                commit: msg.commit,
            }
        }
        other => EventKind::MessageReceived {
            msg_id,
            from,
            msg_type: format!("{other:?}"),
        },
    }
}

fn entry_range(msg: &Message) -> (u64, u64) {
    match (msg.entries.first(), msg.entries.last()) {
        (Some(first), Some(last)) => (first.index, last.index),
        _ => (0, 0),
    }
}

/// The member's role as events name it.
pub fn role<S: Storage>(raft: &Raft<S>) -> Role {
    match raft.state {
        StateRole::Leader => Role::Leader,
        StateRole::Candidate => Role::Candidate,
        StateRole::PreCandidate => Role::PreCandidate,
        StateRole::Follower if raft.prs().conf().learners().contains(&raft.id) => Role::Learner,
        StateRole::Follower => Role::Follower,
    }
}

/// Why `raft` would refuse the vote request `(candidate, last_index, last_term, term)` it has
/// just stepped (the same tests raft-rs applies, in its order).
pub fn vote_refusal<S: Storage>(raft: &Raft<S>, request: (u64, u64, u64, u64)) -> String {
    let (candidate, last_index, last_term, term) = request;
    if term < raft.term {
        return format!("stale term {term}: this member is at term {}", raft.term);
    }
    if raft.vote != 0 && raft.vote != candidate {
        return format!(
            "already voted for {} in term {}",
            hex_id(raft.vote),
            raft.term
        );
    }
    if raft.leader_id != 0 && raft.leader_id != candidate {
        return format!(
            "a leader ({}) is known in term {}",
            hex_id(raft.leader_id),
            raft.term
        );
    }
    if !raft.raft_log.is_up_to_date(last_index, last_term) {
        return format!(
            "the candidate's log (last {last_index} at term {last_term}) is behind this member's (last {} at term {})",
            raft.raft_log.last_index(),
            raft.raft_log.last_term()
        );
    }
    "refused".into()
}
