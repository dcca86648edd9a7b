//! Scenarios: lab actions a step is about ("kill the leader", "cut the leader off"), named in
//! the lesson by role so they fit whichever member leads at the time, and resolved against an
//! [`Observation`] into the lab's fault requests (`POST /api/faults` bodies).

use serde::Deserialize;
use serde_json::{Value, json};

use super::observation::{MemberState, Observation};

/// A member named by role or by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberRef {
    Leader,
    /// A running follower.
    Follower,
    Named(String),
}

impl<'de> Deserialize<'de> for MemberRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(match text.as_str() {
            "leader" => MemberRef::Leader,
            "follower" => MemberRef::Follower,
            "" => {
                return Err(serde::de::Error::custom(
                    "a member is leader, follower or a name",
                ));
            }
            name => MemberRef::Named(name.to_string()),
        })
    }
}

/// A member reference that the cluster cannot resolve now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    #[error("no member leads now")]
    NoLeader,
    #[error("no follower is running now")]
    NoFollower,
    #[error("the lab runs without TLS (start it with `etcdlab lab --tls`)")]
    NoTls,
    #[error("member list has no member {0}")]
    NotAMember(String),
    #[error("the host picked no port {0}")]
    NoPort(String),
}

impl MemberRef {
    /// The member's name in this cluster now.
    pub fn resolve(&self, observation: &Observation) -> Result<String, ScenarioError> {
        match self {
            MemberRef::Leader => observation
                .leader()
                .map(|m| m.name.clone())
                .ok_or(ScenarioError::NoLeader),
            MemberRef::Follower => observation
                .follower()
                .map(|m| m.name.clone())
                .ok_or(ScenarioError::NoFollower),
            MemberRef::Named(name) => Ok(name.clone()),
        }
    }
}

/// One lab action.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ScenarioAction {
    /// SIGKILL the member, like a crash.
    Kill(MemberRef),
    Restart(MemberRef),
    Pause(MemberRef),
    Resume(MemberRef),
    /// The member starts an election now.
    Campaign(MemberRef),
    /// Cut the member off from all the others.
    Isolate(MemberRef),
    /// Remove the partition and every link fault.
    Heal,
    /// Restart every member that is down and resume every paused one.
    ReviveAll,
}

impl ScenarioAction {
    /// Whether the action brings members back (restart, resume, heal, revive), after which
    /// the cluster should settle before the step goes on.
    pub fn repairs(&self) -> bool {
        matches!(
            self,
            ScenarioAction::Restart(_)
                | ScenarioAction::Resume(_)
                | ScenarioAction::Heal
                | ScenarioAction::ReviveAll
        )
    }

    /// The `POST /api/faults` bodies that carry out this action on the cluster as observed.
    pub fn fault_requests(&self, observation: &Observation) -> Result<Vec<Value>, ScenarioError> {
        Ok(match self {
            ScenarioAction::Kill(m) => vec![json!({ "kill": m.resolve(observation)? })],
            ScenarioAction::Restart(m) => vec![json!({ "restart": m.resolve(observation)? })],
            ScenarioAction::Pause(m) => vec![json!({ "pause": m.resolve(observation)? })],
            ScenarioAction::Resume(m) => vec![json!({ "resume": m.resolve(observation)? })],
            ScenarioAction::Campaign(m) => vec![json!({ "campaign": m.resolve(observation)? })],
            ScenarioAction::Isolate(m) => {
                let name = m.resolve(observation)?;
                let others: Vec<&str> = observation
                    .members
                    .iter()
                    .map(|m| m.name.as_str())
                    .filter(|other| *other != name)
                    .collect();
                vec![json!({ "partition": [[name], others] })]
            }
            ScenarioAction::Heal => vec![json!({ "heal": true })],
            ScenarioAction::ReviveAll => observation
                .members
                .iter()
                .filter_map(|m| match m.state {
                    MemberState::Down => Some(json!({ "restart": m.name })),
                    MemberState::Paused => Some(json!({ "resume": m.name })),
                    MemberState::Up => None,
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lesson::command::fill_placeholders;
    use crate::lesson::observation::{ListedMember, ObservedMember};

    fn cluster() -> Observation {
        let member = |name: &str, role: &str, state| ObservedMember {
            name: name.into(),
            id: String::new(),
            state,
            role: Some(role.into()),
            term: 1,
            leader: None,
            commit_index: 1,
            applied_index: 1,
        };
        Observation {
            members: vec![
                member("m1", "follower", MemberState::Down),
                member("m2", "leader", MemberState::Up),
                member("m3", "follower", MemberState::Up),
            ],
            membership: vec![ListedMember {
                name: String::new(),
                id: "8e9e05c52164694d".into(),
                peer_urls: vec!["http://127.0.0.1:32380".into()],
                is_learner: true,
            }],
            ..Observation::default()
        }
    }

    #[test]
    fn scenarios_resolve_roles_to_members() {
        let seen = cluster();
        assert_eq!(
            ScenarioAction::Kill(MemberRef::Leader).fault_requests(&seen),
            Ok(vec![json!({"kill": "m2"})])
        );
        assert_eq!(
            ScenarioAction::Isolate(MemberRef::Leader).fault_requests(&seen),
            Ok(vec![json!({"partition": [["m2"], ["m1", "m3"]]})])
        );
        assert_eq!(
            ScenarioAction::ReviveAll.fault_requests(&seen),
            Ok(vec![json!({"restart": "m1"})])
        );
        assert_eq!(
            ScenarioAction::Kill(MemberRef::Leader).fault_requests(&Observation::default()),
            Err(ScenarioError::NoLeader)
        );
    }

    #[test]
    fn placeholders_are_filled_from_the_cluster() {
        let seen = cluster();
        assert_eq!(
            fill_placeholders("etcdlab lab kill {leader} # {follower}", &seen),
            Ok("etcdlab lab kill m2 # m3".to_string())
        );
        assert_eq!(
            fill_placeholders("{id:m4}", &seen),
            Err(ScenarioError::NotAMember("m4".into())),
            "a member not started yet has no name"
        );
        assert_eq!(
            fill_placeholders("etcdctl member remove {id:http://127.0.0.1:32380}", &seen),
            Ok("etcdctl member remove 8e9e05c52164694d".to_string())
        );
        assert_eq!(
            fill_placeholders("etcdctl member remove {id:m9}", &seen),
            Err(ScenarioError::NotAMember("m9".into()))
        );
        let mut with_ports = seen.clone();
        with_ports.ports.insert("client".into(), 40123);
        assert_eq!(
            fill_placeholders(
                "--listen {port:client} --advertise {port:client}",
                &with_ports
            ),
            Ok("--listen 40123 --advertise 40123".to_string())
        );
        assert_eq!(
            fill_placeholders("{port:peer}", &with_ports),
            Err(ScenarioError::NoPort("peer".into()))
        );
    }
}
