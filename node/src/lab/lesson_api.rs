//! The lab's side of the lessons (`etcdlab lesson`): `POST /api/observe` answers what a step's
//! goal needs to see (an [`ObservationRequest`] in, an [`Observation`] out: members, the
//! membership, key values on each member, prefix counts, partition, TLS, alarms);
//! `POST /api/sample` loads a data set (`{"name":"kubernetes"}`), `POST /api/wipe` deletes
//! every key, and `POST /api/lesson/reset` (`{"lesson":6}`) puts the lab in a lesson's
//! starting state, for `etcdlab lesson reset` and the page's instructor mode. The lab does these because it holds the members' addresses and, with `--tls`,
//! the client certificate.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use etcdlab_core::events::RaftEvent;
use etcdlab_core::lesson::{
    Lesson, ListedMember, MemberState, Observation, ObservationRequest, ObservedMember, StepEvents,
    sample,
};
use etcdlab_core::proto::etcdserverpb::{
    AlarmRequest, DeleteRangeRequest, Member as ListedByEtcd, MemberAddRequest, MemberListRequest,
    MemberRemoveRequest, PutRequest, RangeRequest, alarm_request::AlarmAction,
};
use tonic::transport::Channel;

use super::members::{Members, Refusal};
use super::tls;
use crate::rpc::etcdserverpb::cluster_client::ClusterClient;
use crate::rpc::etcdserverpb::kv_client::KvClient;
use crate::rpc::etcdserverpb::maintenance_client::MaintenanceClient;

const CONNECT: Duration = Duration::from_millis(500);
/// How long a reset waits for members to start, and for a leader.
const SETTLE: Duration = Duration::from_secs(30);

async fn channel(lab: &Members, addr: &str) -> Option<Channel> {
    tls::channel(lab.tls(), addr, CONNECT).await.ok()
}

/// The range end that makes `prefix` a prefix read (etcd's rule; `""` means every key).
fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// The values of `keys` as the member at `addr` holds them (a serializable read each).
async fn values_on(
    lab: &Members,
    addr: &str,
    keys: &[String],
) -> Option<BTreeMap<String, Option<String>>> {
    let mut client = KvClient::new(channel(lab, addr).await?);
    let mut values = BTreeMap::new();
    for key in keys {
        let answer = client
            .range(RangeRequest {
                key: key.clone().into_bytes(),
                serializable: true,
                ..Default::default()
            })
            .await
            .ok()?
            .into_inner();
        let value = answer
            .kvs
            .first()
            .map(|kv| String::from_utf8_lossy(&kv.value).into_owned());
        values.insert(key.clone(), value);
    }
    Some(values)
}

/// The kinds of event [`StepEvents`] folds, as they appear in an event's JSON text.
const FOLDED_KINDS: [&str; 4] = [
    "\"kind\":\"role_changed\"",
    "\"kind\":\"commit_advanced\"",
    "\"kind\":\"entry_applied\"",
    "\"kind\":\"snapshot_applied\"",
];

/// The lab's events after the cursor `since`, folded; `None` when the lab forgot some.
fn events_after(lab: &Members, since: u64) -> Option<StepEvents> {
    let mut folded = StepEvents::default();
    for (_, text) in lab.events.all_after(since)? {
        if !FOLDED_KINDS.iter().any(|kind| text.contains(kind)) {
            continue;
        }
        if let Ok(event) = serde_json::from_str::<RaftEvent>(&text) {
            folded.record(&event);
        }
    }
    Some(folded)
}

/// The port picked for `name`, picking a free one the first time.
fn lesson_port(lab: &Members, name: &str) -> Option<u16> {
    let mut ports = lab.lesson_ports.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(port) = ports.get(name) {
        return Some(*port);
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .ok()?
        .port();
    ports.insert(name.to_string(), port);
    Some(port)
}

/// What the lab sees now of what `request` asks about.
pub async fn observe(lab: &Members, request: &ObservationRequest) -> Observation {
    // The cursor before the state: an event between the two is counted twice at most, never
    // missed.
    let event_cursor = lab.events.cursor();
    let views = lab.views().await;
    let members: Vec<ObservedMember> = views
        .iter()
        .map(|v| ObservedMember {
            name: v.name.clone(),
            id: v.id.clone(),
            state: match v.state.as_str() {
                "up" => MemberState::Up,
                "paused" => MemberState::Paused,
                _ => MemberState::Down,
            },
            role: v.role.clone(),
            term: v.term,
            leader: v.leader.clone(),
            commit_index: v.commit_index,
            applied_index: v.applied_index,
        })
        .collect();
    let mut up: Vec<&str> = views
        .iter()
        .filter(|v| v.state == "up")
        .map(|v| v.endpoint.as_str())
        .collect();
    // The leader first: it answers linearizable reads without a forward.
    up.sort_by_key(|addr| {
        views
            .iter()
            .find(|v| v.endpoint == *addr)
            .is_none_or(|v| v.role.as_deref() != Some("leader"))
    });
    let keys: Vec<String> = request.keys.iter().cloned().collect();
    let mut observation = Observation {
        members,
        partition: lab.partition(),
        tls: lab.tls().is_some(),
        pki_dir: lab.lab_pki_dir().map(|dir| dir.display().to_string()),
        ports: request
            .ports
            .iter()
            .filter_map(|name| Some((name.clone(), lesson_port(lab, name)?)))
            .collect(),
        event_cursor: Some(event_cursor),
        events: request
            .events_since
            .and_then(|since| events_after(lab, since)),
        ..Observation::default()
    };
    for view in views.iter().filter(|v| v.state == "up") {
        if let Some(values) = values_on(lab, &view.endpoint, &keys).await {
            observation.values.insert(view.name.clone(), values);
        }
    }
    for addr in &request.endpoints {
        if let Some(values) = values_on(lab, addr, &keys).await {
            observation.values.insert(addr.clone(), values);
        }
    }
    for addr in up {
        let Some(channel) = channel(lab, addr).await else {
            continue;
        };
        let Ok(list) = ClusterClient::new(channel.clone())
            .member_list(MemberListRequest::default())
            .await
        else {
            continue;
        };
        observation.membership = list
            .into_inner()
            .members
            .iter()
            .map(|m| ListedMember {
                name: m.name.clone(),
                id: etcdlab_core::events::hex_id(m.id),
                peer_urls: m.peer_ur_ls.clone(),
                is_learner: m.is_learner,
            })
            .collect();
        let mut kv = KvClient::new(channel.clone());
        for prefix in &request.prefixes {
            if let Ok(answer) = kv
                .range(RangeRequest {
                    key: prefix.clone().into_bytes(),
                    range_end: prefix_end(prefix),
                    count_only: true,
                    ..Default::default()
                })
                .await
            {
                observation
                    .prefix_counts
                    .insert(prefix.clone(), answer.into_inner().count.max(0) as u64);
            }
        }
        if let Ok(alarms) = MaintenanceClient::new(channel)
            .alarm(AlarmRequest {
                action: AlarmAction::Get as i32,
                ..Default::default()
            })
            .await
        {
            observation.alarms = alarms
                .into_inner()
                .alarms
                .iter()
                .map(|a| a.alarm().as_str_name().to_string())
                .collect();
        }
        break;
    }
    observation
}

/// The first running member's KV client, the leader first.
async fn kv_client(lab: &Members) -> Result<KvClient<Channel>, Refusal> {
    for target in lab.kv_targets().await {
        if let Some(channel) = channel(lab, &target).await {
            return Ok(KvClient::new(channel));
        }
    }
    Err(Refusal::Conflict("no member is running".into()))
}

/// Puts the sample's keys; the number of keys written.
pub async fn load_sample(lab: &Members, name: &str) -> Result<usize, Refusal> {
    let entries = sample::named(name).ok_or_else(|| {
        Refusal::BadRequest(format!(
            "no sample named {name:?} (samples: {})",
            sample::SAMPLES.join(", ")
        ))
    })?;
    let mut client = kv_client(lab).await?;
    for (key, value) in &entries {
        client
            .put(PutRequest {
                key: key.clone().into_bytes(),
                value: value.clone().into_bytes(),
                ..Default::default()
            })
            .await
            .map_err(|s| Refusal::Conflict(format!("loading {key}: {}", s.message())))?;
    }
    Ok(entries.len())
}

/// Deletes every key; the number deleted.
pub async fn wipe(lab: &Members) -> Result<i64, Refusal> {
    let answer = kv_client(lab)
        .await?
        .delete_range(DeleteRangeRequest {
            key: vec![0],
            range_end: prefix_end(""),
            ..Default::default()
        })
        .await
        .map_err(|s| Refusal::Conflict(s.message().to_string()))?;
    Ok(answer.into_inner().deleted)
}

/// Waits (at most [`SETTLE`]) until the cluster is as `ready` wants; `what` names the wait.
async fn wait_until(
    lab: &Members,
    what: &str,
    ready: impl Fn(&Observation) -> bool,
) -> Result<(), Refusal> {
    let deadline = Instant::now() + SETTLE;
    while !ready(&observe(lab, &ObservationRequest::default()).await) {
        if Instant::now() > deadline {
            return Err(Refusal::Conflict(format!("{what} after {SETTLE:?}")));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Ok(())
}

/// The membership as the first running member that answers lists it, with a channel to it.
async fn membership(lab: &Members) -> Option<(Channel, Vec<ListedByEtcd>)> {
    for view in lab.views().await.iter().filter(|v| v.state == "up") {
        let Some(channel) = channel(lab, &view.endpoint).await else {
            continue;
        };
        if let Ok(list) = ClusterClient::new(channel.clone())
            .member_list(MemberListRequest::default())
            .await
        {
            return Some((channel, list.into_inner().members));
        }
    }
    None
}

fn listed(members: &[ListedByEtcd], peer_url: &str) -> bool {
    members
        .iter()
        .any(|m| m.peer_ur_ls.iter().any(|u| u == peer_url))
}

/// Makes the membership the lab's members again: a member a lesson added (a learner never
/// started) is removed; a lab member a lesson removed is added back and started on a fresh
/// data dir. Whether it changed anything.
async fn restore_membership(lab: &Members) -> Result<bool, Refusal> {
    let views = lab.views().await;
    let (channel, members) = membership(lab)
        .await
        .ok_or_else(|| Refusal::Conflict("no member answers member list".into()))?;
    let mut cluster = ClusterClient::new(channel);
    let failed = |what: String| {
        move |s: tonic::Status| Refusal::Conflict(format!("{what}: {}", s.message()))
    };
    let mut changed = false;
    for extra in members
        .iter()
        .filter(|m| !views.iter().any(|v| m.peer_ur_ls.contains(&v.peer_url)))
    {
        cluster
            .member_remove(MemberRemoveRequest { id: extra.id })
            .await
            .map_err(failed(format!("removing {:x}", extra.id)))?;
        changed = true;
    }
    for view in views.iter().filter(|v| !listed(&members, &v.peer_url)) {
        let added = cluster
            .member_add(MemberAddRequest {
                peer_ur_ls: vec![view.peer_url.clone()],
                is_learner: false,
            })
            .await
            .map_err(failed(format!("adding {} back", view.name)))?
            .into_inner();
        let id = added
            .member
            .map(|m| m.id)
            .ok_or_else(|| Refusal::Conflict(format!("adding {} back: no id", view.name)))?;
        lab.rejoin(&view.name, id)?;
        changed = true;
    }
    Ok(changed)
}

/// Waits until every lab member but `except` runs and knows its role, and a leader leads.
async fn wait_all_up(lab: &Members, except: &[String]) -> Result<(), Refusal> {
    wait_until(lab, "not every member answers", |seen| {
        seen.members
            .iter()
            .filter(|m| !except.contains(&m.name))
            .all(|m| m.state == MemberState::Up && m.role.is_some())
    })
    .await
}

/// Puts the lab in a lesson's starting state: the lab's members, and only they, in the
/// membership and running, the partition healed, no keys, the lesson's sample loaded.
pub async fn reset(lab: &Members, lesson: &Lesson) -> Result<(), Refusal> {
    if lesson.requires.tls && lab.tls().is_none() {
        return Err(Refusal::Conflict(
            "this lesson needs a TLS lab: start it with `etcdlab lab --tls --data-dir <dir>`"
                .into(),
        ));
    }
    // A member removed from the membership would not start on its data: it comes back below.
    let listed_now = membership(lab).await.map(|(_, members)| members);
    let mut removed = Vec::new();
    for view in lab.views().await {
        if listed_now
            .as_ref()
            .is_some_and(|members| !listed(members, &view.peer_url))
        {
            removed.push(view.name);
            continue;
        }
        match view.state.as_str() {
            "up" => {}
            "paused" => lab.pause(&view.name, false).await?,
            _ => lab.start(&view.name)?,
        }
    }
    // A partition is healed on every member, so every member must answer first.
    wait_all_up(lab, &removed).await?;
    lab.set_partition(None).await?;
    wait_until(lab, "no leader", Observation::settled).await?;
    if restore_membership(lab).await? {
        wait_all_up(lab, &[]).await?;
        wait_until(lab, "no leader", Observation::settled).await?;
    }
    wipe(lab).await?;
    if let Some(name) = &lesson.requires.sample {
        load_sample(lab, name).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_ends_follow_etcd() {
        assert_eq!(prefix_end("/registry/"), b"/registry0".to_vec());
        assert_eq!(prefix_end(""), vec![0]);
        assert_eq!(prefix_end("a\u{7f}"), b"a\x80".to_vec());
    }
}
