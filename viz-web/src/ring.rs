//! The cluster drawn as SVG: members on a ring coloured by role, with term, vote and
//! election-timer arc; links between them (cut ones dashed red, lossy or slow ones dotted
//! orange; a click on a link cuts or mends it); messages in flight as shapes moving from
//! sender to receiver, dropped ones crossed out.
//!
//! Test hooks: each member is a `<g data-node data-role data-term>`, each flight a
//! `<g data-msg="<kind>">`.

use etcdlab_core::cluster_view::{ClusterView, Flight, FlightKind, MemberState, MemberView};
use etcdlab_core::events::Role;
use yew::prelude::*;

use crate::playback::flight_progress;

pub const WIDTH: f64 = 520.0;
pub const HEIGHT: f64 = 440.0;
const RING_RADIUS: f64 = 160.0;
const MEMBER_RADIUS: f64 = 38.0;

/// Where the `i`-th of `n` members sits: on a ring, the first at the top, clockwise.
pub fn position(i: usize, n: usize) -> (f64, f64) {
    let angle = -std::f64::consts::FRAC_PI_2 + std::f64::consts::TAU * i as f64 / n.max(1) as f64;
    (
        WIDTH / 2.0 + RING_RADIUS * angle.cos(),
        HEIGHT / 2.0 + RING_RADIUS * angle.sin(),
    )
}

/// The role as `data-role` and CSS name it: down and paused members before their role.
pub fn role_name(member: &MemberView) -> &'static str {
    match member.state {
        MemberState::Down => "down",
        MemberState::Paused => "paused",
        MemberState::Up => member.role.as_str(),
    }
}

/// Everything the ring needs to draw one frame.
pub struct RingProps<'a> {
    pub view: &'a ClusterView,
    pub clock_ms: f64,
    pub selected: Option<&'a str>,
    /// The member a lesson step is about, by name (outlined).
    pub focused: Option<&'a str>,
    pub on_member: Callback<String>,
    pub on_flight: Callback<(String, u64)>,
    /// A link clicked: the two members' ids and whether it is cut now.
    pub on_link: Callback<(String, String, bool)>,
}

/// How a link between two members is, from the faults in force.
#[derive(Clone, Copy, PartialEq)]
enum LinkState {
    Open,
    /// Some messages lost or delayed.
    Degraded,
    /// Nothing gets through (a partition, or total loss either way).
    Cut,
}

fn link_state(view: &ClusterView, a: &str, b: &str) -> LinkState {
    let group = |id: &str| {
        view.partition
            .iter()
            .position(|g| g.iter().any(|x| x == id))
            .unwrap_or(view.partition.len())
    };
    if !view.partition.is_empty() && group(a) != group(b) {
        return LinkState::Cut;
    }
    let faults: Vec<_> = view
        .link_faults
        .iter()
        .filter(|l| (l.from == a && l.to == b) || (l.from == b && l.to == a))
        .collect();
    if faults.iter().any(|l| l.loss >= 1.0) {
        LinkState::Cut
    } else if faults.is_empty() {
        LinkState::Open
    } else {
        LinkState::Degraded
    }
}

pub fn ring(props: &RingProps<'_>) -> Html {
    let members = props.view.members_by_name();
    let n = members.len();
    let index_of = |id: &str| members.iter().position(|m| m.id == id);
    let mut links = Vec::new();
    for (i, a) in members.iter().enumerate() {
        for (j, b) in members.iter().enumerate().skip(i + 1) {
            let (x1, y1) = position(i, n);
            let (x2, y2) = position(j, n);
            let state = link_state(props.view, &a.id, &b.id);
            let class = match state {
                LinkState::Open => "link",
                LinkState::Degraded => "link degraded",
                LinkState::Cut => "link cut",
            };
            let key = (a.id.clone(), b.id.clone(), state == LinkState::Cut);
            let onclick = props.on_link.reform(move |_| key.clone());
            let (x1, y1, x2, y2) = (
                x1.to_string(),
                y1.to_string(),
                x2.to_string(),
                y2.to_string(),
            );
            links.push(html! {
                <g class="link-hit" data-link={format!("{}-{}", a.name, b.name)} onclick={onclick}>
                    <line class="hit" x1={x1.clone()} y1={y1.clone()} x2={x2.clone()} y2={y2.clone()} />
                    <line class={class} x1={x1} y1={y1} x2={x2} y2={y2} />
                </g>
            });
        }
    }
    let flights: Html = props
        .view
        .flights
        .iter()
        .filter_map(|f| {
            let progress = flight_progress(f, props.clock_ms)?;
            let (from, to) = (index_of(&f.from)?, index_of(&f.to)?);
            Some(flight_shape(
                f,
                position(from, n),
                position(to, n),
                progress,
                &props.on_flight,
            ))
        })
        .collect();
    let member_nodes: Html = members
        .iter()
        .enumerate()
        .map(|(i, m)| member_node(m, position(i, n), props))
        .collect();
    html! {
        <svg class="ring" viewBox={format!("0 0 {WIDTH} {HEIGHT}")} role="img" aria-label="cluster">
            { for links }
            { member_nodes }
            { flights }
        </svg>
    }
}

fn member_node(m: &MemberView, (x, y): (f64, f64), props: &RingProps<'_>) -> Html {
    let role = role_name(m);
    let id = m.id.clone();
    let on_click = props.on_member.reform(move |_| id.clone());
    let selected = props.selected == Some(m.id.as_str());
    let focused = props.focused == Some(m.name.as_str());
    let timer = election_timer(m, props.clock_ms);
    let circumference = std::f64::consts::TAU * (MEMBER_RADIUS + 6.0);
    let vote = m
        .voted_for
        .as_deref()
        .map(|v| format!("voted {}", props.view.name_of(v)))
        .unwrap_or_default();
    html! {
        <g class={classes!("member", role, selected.then_some("selected"), focused.then_some("focus"))}
           data-node={m.name.clone()} data-role={role} data-term={m.term.to_string()}
           onclick={on_click} transform={format!("translate({x:.1},{y:.1})")}>
            if let Some(fraction) = timer {
                <circle class="timer" r={(MEMBER_RADIUS + 6.0).to_string()}
                    stroke-dasharray={format!("{:.1} {:.1}", fraction * circumference, circumference)}
                    transform="rotate(-90)" />
            }
            <circle class="body" r={MEMBER_RADIUS.to_string()} />
            <text class="name" y="-6">{ &m.name }</text>
            <text class="term" y="12">{ format!("term {}", m.term) }</text>
            <text class="vote" y={(MEMBER_RADIUS + 22.0).to_string()}>{ vote }</text>
        </g>
    }
}

/// How far the election timer of a follower or candidate has run, 0 to 1.
fn election_timer(m: &MemberView, clock_ms: f64) -> Option<f64> {
    if m.state != MemberState::Up || m.role == Role::Leader || m.role == Role::Learner {
        return None;
    }
    let tick = m.tick_ms? as f64;
    let timeout = m.election_timeout_ticks as f64 * tick;
    (timeout > 0.0).then(|| ((clock_ms - m.timer_reset_ms as f64) / timeout).clamp(0.0, 1.0))
}

fn flight_shape(
    f: &Flight,
    (x1, y1): (f64, f64),
    (x2, y2): (f64, f64),
    progress: f64,
    on_flight: &Callback<(String, u64)>,
) -> Html {
    // Start and end at the members' edges, not their centres.
    let (dx, dy) = (x2 - x1, y2 - y1);
    let length = (dx * dx + dy * dy).sqrt().max(1.0);
    let edge = MEMBER_RADIUS / length;
    let t = edge + (1.0 - 2.0 * edge) * progress;
    let (x, y) = (x1 + dx * t, y1 + dy * t);
    let kind = f.kind.as_str();
    let key = (f.from.clone(), f.msg_id);
    let onclick = on_flight.reform(move |_| key.clone());
    let shape = match f.kind {
        FlightKind::VoteRequest | FlightKind::VoteGranted | FlightKind::VoteRejected => html! {
            <rect x="-7" y="-7" width="14" height="14" transform="rotate(45)" />
        },
        FlightKind::Snapshot => html! { <rect x="-10" y="-10" width="20" height="20" /> },
        FlightKind::Heartbeat | FlightKind::HeartbeatAck => html! { <circle r="4" /> },
        FlightKind::AppendAck | FlightKind::AppendReject => html! { <circle r="6" /> },
        FlightKind::Append => html! { <circle r="9" /> },
        FlightKind::Other => html! { <circle r="5" /> },
    };
    html! {
        <g class={classes!("msg", kind, f.dropped.is_some().then_some("dropped"))} data-msg={kind}
           transform={format!("translate({x:.1},{y:.1})")} onclick={onclick}>
            { shape }
            if f.dropped.is_some() {
                <path class="cross" d="M-8,-8 L8,8 M-8,8 L8,-8" />
            }
            <title>{ &f.label }</title>
        </g>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_sit_on_a_ring_starting_at_the_top() {
        let (x, y) = position(0, 3);
        assert!((x - WIDTH / 2.0).abs() < 1e-9 && y < HEIGHT / 2.0);
        let (x1, _) = position(1, 3);
        let (x2, _) = position(2, 3);
        assert!(
            x1 > WIDTH / 2.0 && x2 < WIDTH / 2.0,
            "clockwise from the top"
        );
    }
}
