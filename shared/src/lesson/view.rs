//! An [`Observation`] built from a [`ClusterView`] — the reducer of a simulated cluster's
//! Raft events, which holds each member's state, role, term, commit and applied index, its
//! applied key-value state and the partition in force — for the page's demo and the
//! simulator half of `lesson verify`. What a simulated cluster has no notion of (files, TLS,
//! alarms, addresses outside the cluster, learners) is left out; [`super::simulated`] says
//! which goals need it.

use crate::cluster_view::{ClusterView, MemberState as ViewState};
use crate::events::Role;

use super::observation::{
    ListedMember, MemberState, Observation, ObservationRequest, ObservedMember,
};

/// What `request` asks about, as the view shows the cluster now.
pub fn observe_view(view: &ClusterView, request: &ObservationRequest) -> Observation {
    let members = view.members_by_name();
    let name_of = |id: &str| view.name_of(id).to_string();
    let observed: Vec<ObservedMember> = members
        .iter()
        .map(|m| {
            let state = match m.state {
                ViewState::Up => MemberState::Up,
                ViewState::Down => MemberState::Down,
                ViewState::Paused => MemberState::Paused,
            };
            ObservedMember {
                name: m.name.clone(),
                id: m.id.clone(),
                state,
                role: (state == MemberState::Up).then(|| m.role.as_str().to_string()),
                term: m.term,
                leader: m.leader.clone(),
                commit_index: m.commit,
                applied_index: m.applied,
            }
        })
        .collect();
    let values = members
        .iter()
        .filter(|m| m.state == ViewState::Up)
        .map(|m| {
            let values = request
                .keys
                .iter()
                .map(|key| (key.clone(), m.kv.get(key).cloned()))
                .collect();
            (m.name.clone(), values)
        })
        .collect();
    // Prefix counts as a linearizable read would give them: from the leader's state machine.
    let prefix_counts = match view.leader() {
        Some(leader) => request
            .prefixes
            .iter()
            .map(|prefix| {
                let count = leader.kv.keys().filter(|k| k.starts_with(prefix)).count();
                (prefix.clone(), count as u64)
            })
            .collect(),
        None => Default::default(),
    };
    Observation {
        members: observed,
        membership: members
            .iter()
            .map(|m| ListedMember {
                name: m.name.clone(),
                id: m.id.clone(),
                peer_urls: Vec::new(),
                is_learner: m.role == Role::Learner,
            })
            .collect(),
        values,
        prefix_counts,
        partition: (!view.partition.is_empty()).then(|| {
            view.partition
                .iter()
                .map(|group| group.iter().map(|id| name_of(id)).collect())
                .collect()
        }),
        ..Observation::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lesson::{Baseline, Goal, GoalStatus, KeyScope};

    fn view() -> ClusterView {
        let mut view = ClusterView::new();
        view.know_member("a1", "m1", ViewState::Up, Some((Role::Leader, 2)));
        view.know_member("b2", "m2", ViewState::Up, Some((Role::Follower, 2)));
        view.know_member("c3", "m3", ViewState::Down, None);
        for id in ["a1", "b2"] {
            let member = view.members.get_mut(id).unwrap();
            member.kv.insert("greeting".into(), "hello".into());
        }
        view
    }

    #[test]
    fn goals_evaluate_on_the_view() {
        let view = view();
        let goal = Goal::KeyEquals {
            key: "greeting".into(),
            value: "hello".into(),
            on: KeyScope::All,
        };
        let seen = observe_view(&view, &goal.request());
        assert_eq!(seen.leader().map(|m| m.name.as_str()), Some("m1"));
        assert_eq!(seen.member("m3").map(|m| m.state), Some(MemberState::Down));
        assert_eq!(goal.evaluate(&seen, &Baseline::of(&seen)), GoalStatus::Met);
        let count = Goal::KeysWithPrefix {
            prefix: "greet".into(),
            count: 1,
        };
        let seen = observe_view(&view, &count.request());
        assert_eq!(count.evaluate(&seen, &Baseline::default()), GoalStatus::Met);
        assert_eq!(
            Goal::MemberCount { count: 3 }.evaluate(&seen, &Baseline::default()),
            GoalStatus::Met
        );
    }
}
