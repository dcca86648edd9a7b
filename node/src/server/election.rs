//! `v3election.Election`: leader election among lease holders, served with the election
//! recipe of [`recipes`](super::recipes) (the same keys `etcdctl elect` creates). `Observe`
//! streams the leader's value each time it changes, and the next leader when it resigns.

use std::pin::Pin;

use etcdlab_core::proto::v3electionpb::{
    CampaignRequest, CampaignResponse, LeaderKey, LeaderRequest, LeaderResponse, ProclaimRequest,
    ProclaimResponse, ResignRequest, ResignResponse,
};
use futures::Stream;
use tokio::sync::mpsc;
use tonic::{Request, Response, Status};

use super::recipes::Recipes;
use crate::rpc::v3electionpb::election_server::Election;

pub struct ElectionService {
    recipes: Recipes,
}

impl ElectionService {
    pub fn new(recipes: Recipes) -> Self {
        ElectionService { recipes }
    }
}

fn missing_leader_key() -> Status {
    Status::unknown("\"leader\" field must be provided")
}

type LeaderStream = Pin<Box<dyn Stream<Item = Result<LeaderResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Election for ElectionService {
    /// Waits until the request's lease leads the election `name`, with `value` proclaimed.
    async fn campaign(
        &self,
        request: Request<CampaignRequest>,
    ) -> Result<Response<CampaignResponse>, Status> {
        self.recipes
            .check_name(request.metadata(), &request.get_ref().name, true)
            .await?;
        let req = request.into_inner();
        let holder = self
            .recipes
            .campaign(&req.name, req.lease, &req.value)
            .await?;
        Ok(Response::new(CampaignResponse {
            header: Some(holder.header),
            leader: Some(LeaderKey {
                name: req.name,
                key: holder.key,
                rev: holder.create_revision,
                lease: holder.lease,
            }),
        }))
    }

    async fn proclaim(
        &self,
        request: Request<ProclaimRequest>,
    ) -> Result<Response<ProclaimResponse>, Status> {
        let metadata = request.metadata().clone();
        let req = request.into_inner();
        let leader = req.leader.ok_or_else(missing_leader_key)?;
        self.recipes
            .check_keys(&metadata, &leader.key, &[], true)
            .await?;
        let header = self
            .recipes
            .proclaim(&leader.key, leader.rev, leader.lease, &req.value)
            .await?;
        Ok(Response::new(ProclaimResponse {
            header: Some(header),
        }))
    }

    async fn leader(
        &self,
        request: Request<LeaderRequest>,
    ) -> Result<Response<LeaderResponse>, Status> {
        self.recipes
            .check_name(request.metadata(), &request.get_ref().name, false)
            .await?;
        let (header, kv) = self.recipes.leader(&request.into_inner().name).await?;
        let kv = kv.ok_or_else(|| Status::unknown("election: no leader"))?;
        Ok(Response::new(LeaderResponse {
            header: Some(header),
            kv: Some(kv),
        }))
    }

    type ObserveStream = LeaderStream;

    async fn observe(
        &self,
        request: Request<LeaderRequest>,
    ) -> Result<Response<Self::ObserveStream>, Status> {
        self.recipes
            .check_name(request.metadata(), &request.get_ref().name, false)
            .await?;
        let name = request.into_inner().name;
        let (out, responses) = mpsc::channel(16);
        let recipes = self.recipes.clone();
        tokio::spawn(async move {
            if let Err(status) = observe(&recipes, &name, &out).await {
                let _ = out.send(Err(status)).await;
            }
        });
        let responses = futures::stream::unfold(responses, |mut rx| async move {
            rx.recv().await.map(|response| (response, rx))
        });
        Ok(Response::new(Box::pin(responses)))
    }

    async fn resign(
        &self,
        request: Request<ResignRequest>,
    ) -> Result<Response<ResignResponse>, Status> {
        let metadata = request.metadata().clone();
        let leader = request.into_inner().leader.ok_or_else(missing_leader_key)?;
        self.recipes
            .check_keys(&metadata, &leader.key, &[], true)
            .await?;
        let header = self.recipes.resign(&leader.key, leader.rev).await?;
        Ok(Response::new(ResignResponse {
            header: Some(header),
        }))
    }
}

/// Sends each leader and each new value it proclaims until the client goes away.
async fn observe(
    recipes: &Recipes,
    name: &[u8],
    out: &mpsc::Sender<Result<LeaderResponse, Status>>,
) -> Result<(), Status> {
    loop {
        let (mut header, kv) = recipes.wait_leader(name).await?;
        let key = kv.key.clone();
        let mut from = header.revision + 1;
        let mut current = Some(kv);
        while let Some(kv) = current {
            let sent = out
                .send(Ok(LeaderResponse {
                    header: Some(header),
                    kv: Some(kv),
                }))
                .await;
            if sent.is_err() {
                return Ok(());
            }
            let (revision, next) = recipes.next_change(&key, from).await?;
            header.revision = revision;
            from = revision + 1;
            current = next;
        }
    }
}
